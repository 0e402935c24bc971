/**
 * `contact-psi sync` without --json prints what a server chose (user ids, labels): a hostile
 * server must not be able to forge result lines or drive the terminal with them (issue 9
 * §4). The command runs in-process against a discovery server whose labels hold newlines,
 * tabs, ESC sequences and a bidi override.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sync } from '../src/cli/commands/sync.js';
import { hasControlChars } from '../src/cli/terminal-text.js';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { buildDirectory } from './helpers/service.js';

const work = mkdtempSync(join(tmpdir(), 'contact-psi-sync-output-'));
const forgedUserId = 'mallory\nZoë Müller\ttel:+41790000001\tfriend\tpk\x1b[2K\r\x1b]0;owned\x07\u202eevil';
const forgedLabel = 'label\n1 matches among 1 identifiers\x9b31m';
let running: RunningServer;
let server: RunningServer['server'];

beforeAll(async () => {
  // A real (signing) directory: clients refuse a dir.info without the signed announcement.
  const utf8 = (text: string) => new TextEncoder().encode(text);
  const directory = await buildDirectory(work, [
    { userId: forgedUserId, identifiers: ['tel:+41791234567'], label: utf8(forgedLabel), discoverable: true },
    { userId: 'plain', identifiers: ['tel:+41797654321'], label: utf8('pk-plain'), discoverable: true },
  ]);
  running = await serveDirectory(directory, { host: '127.0.0.1', port: 0 });
  server = running.server;
  writeFileSync(
    join(work, 'book.vcf'),
    ['BEGIN:VCARD', 'VERSION:3.0', 'FN:Zoë Müller', 'TEL:+41 79 123 45 67', 'END:VCARD', 'BEGIN:VCARD', 'VERSION:3.0', 'FN:Pat', 'TEL:+41 79 765 43 21', 'END:VCARD'].join('\r\n'),
  );
});
afterAll(async () => {
  await running?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('sync output', () => {
  it('one line per match, every field escaped; readable names stay as they are', async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await sync({ server: server.url, contacts: join(work, 'book.vcf'), region: 'CH', cache: join(work, 'cache'), workers: '0' });
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    const out = lines.join('\n');
    const rows = out.split('\n');
    // Two matches and the summary: no forged line.
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(hasControlChars(row.replaceAll('\t', ' '))).toBe(false);
    // Each match is exactly 4 tab-separated columns (name, identifier, user id, label).
    for (const row of rows.slice(0, 2)) expect(row.split('\t')).toHaveLength(4);
    const zoe = rows.find((r) => r.startsWith('Zoë'))!;
    expect(zoe).toContain('Zoë Müller\ttel:+41791234567\tmallory\\u{a}Zoë Müller\\u{9}tel:+41790000001');
    expect(zoe).toContain('\\u{1b}[2K\\u{d}\\u{1b}]0;owned\\u{7}\\u{202e}evil');
    expect(out).not.toContain('\x1b');
    expect(rows[2]).toMatch(/^2 matches among 2 identifiers of 2 contacts/);
  });
});

describe('sync --json output', () => {
  it('parses to the exact server values and holds no control or bidi character', async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await sync({ server: server.url, contacts: join(work, 'book.vcf'), region: 'CH', cache: join(work, 'cache-json'), workers: '0', json: true });
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    expect(lines).toHaveLength(1);
    expect(hasControlChars(lines[0])).toBe(false);
    const rows = JSON.parse(lines[0]) as { userId: string }[];
    expect(rows.map((r) => r.userId).sort()).toEqual(['plain', forgedUserId].sort());
  });
});
