// examples/client-sdk.ts — the client SDK: consent, background syncs, manual links.
import { ContactDiscoveryClient, parseAddressBook } from 'contact-psi';

const book = parseAddressBook('name,phone,email\nAda,+41791234567,\nBob,,bob@example.org\n');
const client = new ContactDiscoveryClient({
  server: process.env.SERVER ?? 'ws://127.0.0.1:7878',
  cacheDir: process.env.CACHE_DIR ?? '.contact-psi-cache',
  token: 'token-of-app-a-0123456789',
  keepAlive: true, // a process with nothing else to do waits for the sync (default: timers unref'd)
  onResult: (result) => {
    for (const c of result.contacts) console.log(`${c.name}: ${c.userId} (${c.source})`);
    client.stop(); // this example syncs once; an app keeps it started
  },
  onError: ({ error }) => {
    console.error(error);
    client.stop();
    process.exitCode = 1;
  },
});
client.grantConsent();                // after the user said yes: nothing leaves the device before
client.link(client.contactKey(book.contacts[1]), 'user-42'); // a manual link, kept on the device only
client.start(() => book);             // first sync soon, then every 24 h ± 10 % and on changes
