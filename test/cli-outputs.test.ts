/**
 * Outputs people can act on (issue 12 §4), with the built CLI as a user runs it: an empty
 * .vcf is called empty (not a CSV without a header), a UTF-8 label comes back as its text,
 * `sync` says where its snapshot came from (cache, delta, download) without touching the
 * --json array, `--strict` turns rejected entries into a failure, regions may be written in
 * lower case, and `directory remove` takes a user out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatOfFileName, parseAddressBook } from '../src/contacts/address-book.js';

const cli = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'contact-psi-cli-outputs-'));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: work, env: { ...process.env, CONTACT_PSI_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const codeOf = (r: Run): string | undefined => /contact-psi: \[([a-z_]+)\]/.exec(r.stderr)?.[1];
const snapshotLine = (r: Run): string | undefined => /^snapshot: .*$/m.exec(r.stderr)?.[0];

let server: ChildProcess | undefined;
let url = '';

/** `serve` on `port` (0: any), resolved with its URL once it listens. */
async function startServe(port: string): Promise<string> {
  server = spawn(process.execPath, [cli, 'serve', '--db', 'dir.db', '--port', port], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = server;
  return new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (ws:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
}

async function stopServe(): Promise<void> {
  const child = server;
  server = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const vcard = (...cards: string[][]) => cards.map((lines) => ['BEGIN:VCARD', 'VERSION:3.0', ...lines, 'END:VCARD'].join('\r\n')).join('\r\n');
const syncArgs = (book: string, ...extra: string[]) => ['sync', '--server', url, '--contacts', book, '--cache', join(work, 'cache'), '--workers', '0', ...extra];

beforeAll(async () => {
  writeFileSync(
    join(work, 'users.csv'),
    [
      'user_id,phones,emails,label,discoverable',
      'zoe,079 123 45 67,,Zoë Müller,true', // national: needs the region
      'bob,+41 79 555 12 12,,base64:/wA=,true', // a binary label: not UTF-8
      'carol,+41 79 999 99 99,,pk-carol,true',
    ].join('\n'),
  );
  const imported = await run('directory', 'import', 'users.csv', '--db', 'dir.db', '--region', 'ch');
  expect(imported.status, imported.stderr).toBe(0);
  expect(imported.stdout).toMatch(/imported 3 users .*0 rejected rows/);
  writeFileSync(
    join(work, 'book.vcf'),
    vcard(['FN:Zoë', 'TEL:079 123 45 67'], ['FN:Bob', 'TEL:+41 79 555 12 12'], ['FN:Carol', 'TEL:+41 79 999 99 99'], ['FN:Nobody', 'TEL:+41 79 000 00 00']),
  );
  url = await startServe('0');
});

afterAll(async () => {
  await stopServe();
  rmSync(work, { recursive: true, force: true });
});

describe('sync output', () => {
  it('lower-case --region, UTF-8 labels as text (binary as base64:), and "snapshot: download" on stderr beside one JSON array', async () => {
    const r = await run(...syncArgs('book.vcf', '--region', 'ch', '--json'));
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; userId: string; label: string }[];
    expect(rows.map(({ name, userId, label }) => ({ name, userId, label }))).toEqual([
      { name: 'Bob', userId: 'bob', label: 'base64:/wA=' },
      { name: 'Carol', userId: 'carol', label: 'pk-carol' },
      { name: 'Zoë', userId: 'zoe', label: 'Zoë Müller' },
    ]);
    expect(snapshotLine(r)).toMatch(/^snapshot: download \(\d+ bytes, epoch \d+, version \d+\)$/);
  });

  it('the next sync says "snapshot: cache"; the text output shows the label as text', async () => {
    const r = await run(...syncArgs('book.vcf', '--region', 'CH'));
    expect(r.status, r.stderr).toBe(0);
    expect(snapshotLine(r)).toMatch(/^snapshot: cache \(current, epoch \d+, version \d+\)$/);
    expect(r.stdout).toContain('Zoë\ttel:+41791234567\tzoe\tZoë Müller\n');
    expect(r.stdout).toMatch(/3 matches among 4 identifiers of 4 contacts \(snapshot from cache/);
  });

  it('directory remove takes a user out; after the server restarts, the sync says "snapshot: delta" and the user is gone', async () => {
    await stopServe();
    const port = new URL(url).port;
    const removed = await run('directory', 'remove', 'carol', '--db', 'dir.db');
    expect(removed.status, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/^removed carol: 1 tags pruned; epoch \d+ version \d+/);
    const unknown = await run('directory', 'remove', 'carol', '--db', 'dir.db');
    expect(unknown.status).toBe(1);
    expect(codeOf(unknown), unknown.stderr).toBe('unknown_user');
    // Same port, same URL: the same client cache, one version behind.
    expect(await startServe(port)).toBe(url);
    const r = await run(...syncArgs('book.vcf', '--region', 'ch', '--json'));
    expect(r.status, r.stderr).toBe(0);
    expect(snapshotLine(r)).toMatch(/^snapshot: delta \(cache brought up to epoch \d+, version \d+\)$/);
    expect((JSON.parse(r.stdout) as { userId: string }[]).map((m) => m.userId)).toEqual(['bob', 'zoe']);
  });
});

describe('--strict', () => {
  it('sync --strict exits 1 on a rejected entry and sends nothing; without it the sync runs', async () => {
    writeFileSync(join(work, 'messy.vcf'), vcard(['FN:Zoë', 'TEL:079 123 45 67'], ['FN:Typo', 'TEL:not a number']));
    const strict = await run(...syncArgs('messy.vcf', '--region', 'ch', '--strict'));
    expect(strict.status).toBe(1);
    expect(codeOf(strict), strict.stderr).toBe('rejected_entries');
    expect(strict.stderr).toContain('not a number'); // the entry is still named
    expect(snapshotLine(strict)).toBeUndefined(); // nothing was sent
    const lax = await run(...syncArgs('messy.vcf', '--region', 'ch'));
    expect(lax.status, lax.stderr).toBe(0);
    expect(lax.stdout).toMatch(/^1 matches/m);
  });

  it('directory import --strict exits 1 on a rejected row and imports nothing; without it the good rows go in', async () => {
    writeFileSync(join(work, 'more.csv'), ['user_id,phones,emails,label,discoverable', 'dan,+41 79 111 11 11,,pk-dan,true', 'broken,not-a-number,,x,true'].join('\n'));
    const strict = await run('directory', 'import', 'more.csv', '--db', 'strict.db', '--strict');
    expect(strict.status).toBe(1);
    expect(codeOf(strict), strict.stderr).toBe('rejected_entries');
    expect(strict.stderr).toMatch(/row 3 \(broken\)/);
    expect(existsSync(join(work, 'strict.db'))).toBe(false); // refused before the store was opened
    const lax = await run('directory', 'import', 'more.csv', '--db', 'strict.db');
    expect(lax.status, lax.stderr).toBe(0);
    expect(lax.stdout).toMatch(/imported 1 users .*1 rejected rows/);
  });
});

describe('address-book files', () => {
  it('the extension decides the format, any case; other names are told apart by content', () => {
    expect(formatOfFileName('book.vcf')).toBe('vcard');
    expect(formatOfFileName('Book.VCARD')).toBe('vcard');
    expect(formatOfFileName('export.CSV')).toBe('csv');
    expect(formatOfFileName('contacts.txt')).toBeUndefined();
    expect(formatOfFileName('vcf')).toBeUndefined();
  });

  it('in the library: any text of blanks and BOMs is empty_address_book in either format; one letter more is not', () => {
    const blank = fc.array(fc.constantFrom(' ', '\t', '\r', '\n', '\ufeff', '\u00a0', '\u2028'), { maxLength: 20 }).map((a) => a.join(''));
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f();
        return undefined;
      } catch (err) {
        return (err as { code?: string }).code;
      }
    };
    fc.assert(
      fc.property(blank, fc.constantFrom('vcard', 'csv', undefined), (text, format) => {
        expect(codeOf(() => parseAddressBook(text, { format }))).toBe('empty_address_book');
        // Past the edge: one visible character makes it a (bad) address book, no longer an empty one.
        expect(codeOf(() => parseAddressBook(`${text}x`, { format }))).not.toBe('empty_address_book');
      }),
    );
  });

  it('an empty .vcf (or .csv, or a blank one) is empty_address_book, not csv_no_header', async () => {
    writeFileSync(join(work, 'empty.vcf'), '');
    writeFileSync(join(work, 'blank.csv'), '\ufeff\r\n  \n');
    for (const file of ['empty.vcf', 'blank.csv']) {
      const r = await run(...syncArgs(file));
      expect(r.status).toBe(1);
      expect(codeOf(r), r.stderr).toBe('empty_address_book');
      expect(r.stderr).toContain(`${file}: the address book is empty`);
    }
  });

  it('a .vcf without a card is no_contacts; a .vcf is never read as CSV', async () => {
    writeFileSync(join(work, 'table.vcf'), 'Name,Phone\nAnna,+41 79 123 45 67\n');
    const r = await run(...syncArgs('table.vcf'));
    expect(r.status).toBe(1);
    expect(codeOf(r), r.stderr).toBe('no_contacts');
    expect(r.stderr).toContain('BEGIN:VCARD');
  });
});
