// examples/sync-once.ts — one sync, without the scheduler (Node).
import { syncAddressBook, parseAddressBook } from 'contact-psi';

const vcardText = 'BEGIN:VCARD\nVERSION:3.0\nFN:Ada\nTEL:079 123 45 67\nEND:VCARD\n';
const book = parseAddressBook(vcardText, { defaultRegion: 'CH' });
const { matches } = await syncAddressBook({
  server: process.env.SERVER ?? 'ws://127.0.0.1:7878',
  book,
  cacheDir: process.env.CACHE_DIR ?? '.contact-psi-cache', // snapshot, pins, quota receipt
  token: 'token-of-app-a-0123456789',
});
for (const m of matches) console.log(`${m.name}: ${m.userId}`);
