/**
 * Issue 10 §5 end to end: a directory that stores today's canonical numbers (Mexico without
 * the `1`, Argentina with the `9`, Brazil with nine digits) is synced by a client whose
 * address book holds the same lines in their retired forms: every line is found, and only
 * the ambiguous Argentine landline form costs one more evaluation.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { parseContactsCsv } from '../src/contacts/csv.js';
import { buildDirectory, sync, tempDir } from './helpers/service.js';

const tmp = tempDir('contact-psi-legacy-mobile-');
let running: RunningServer;

// Canonical lines (valid mobiles in libphonenumber's max metadata) and how people wrote them.
const lines = [
  { userId: 'mx-user', canonical: '+525512345678', written: ['+52 1 55 1234 5678', '044 55 1234 5678'] },
  { userId: 'ar-user', canonical: '+5491123456789', written: ['+54 11 15 2345 6789', '011 15 2345-6789'] },
  { userId: 'ar-landline-form', canonical: '+5493514123456', written: ['+54 351 412 3456'] },
  { userId: 'br-user', canonical: '+5511987654321', written: ['+55 11 8765-4321', '(11) 8765-4321'] },
];

beforeAll(async () => {
  const utf8 = (text: string) => new TextEncoder().encode(text);
  const users = lines.map((l) => ({ userId: l.userId, identifiers: [`tel:${l.canonical}`], label: utf8(`pk-${l.userId}`), discoverable: true }));
  running = await serveDirectory(await buildDirectory(tmp.path, users), { host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await running?.close();
  tmp.cleanup();
});

describe('legacy mobile forms against a real directory', () => {
  it('every line written in a retired form is found, each form of one line in one entry costs one evaluation', async () => {
    // National forms need their region: one CSV per country, each parsed with its region.
    const csv = (region: string) =>
      ['name,phones', ...lines.filter((l) => l.canonical.startsWith({ MX: '+52', AR: '+54', BR: '+55' }[region]!)).map((l) => `${l.userId},${l.written.join(';')}`)].join('\n');
    const books = (['MX', 'AR', 'BR'] as const).map((region) => parseContactsCsv(csv(region), { defaultRegion: region }));
    for (const book of books) expect(book.invalid).toEqual([]);
    const book = { contacts: books.flatMap((b) => b.contacts).map((c, index) => ({ ...c, index })), invalid: [] };

    const outcome = await sync(running.server.url, book, join(tmp.path, 'cache'));
    const found = new Map(outcome.matches.map((m) => [m.name, m.userId]));
    for (const line of lines) expect(found.get(line.userId)).toBe(line.userId);
    // One identifier per line, plus the one variant of the Argentine landline form.
    expect(outcome.identifiersChecked).toBe(lines.length + 1);
  });
});
