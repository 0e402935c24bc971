/**
 * The streaming import (issue 13 §1): records read in chunks are the records of the whole
 * text; a file staged batch by batch and applied set-wise leaves the store, the change log
 * and the report exactly as the whole-text parse + upsertUsers did (fresh and over an
 * existing directory, with duplicates, taken identifiers, moves, opt-outs and bad rows);
 * the duplicate check's fingerprint table never takes two different strings for one.
 */
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsvRecords } from '../src/contacts/csv-records.js';
import { csvRecord } from '../src/directory/import-csv.js';
import { parseCsvChunk } from '../src/directory/import-csv-stream.js';
import { parseDirectoryFile } from '../src/directory/import-file.js';
import { openDirectorySource, START, type SourcePosition } from '../src/directory/import-source.js';
import { SeenTable } from '../src/directory/import-seen.js';
import { ImportStage } from '../src/directory/import-stage.js';
import { stageDirectoryFile } from '../src/directory/import-stream.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import type { DirectoryImportError } from '../src/directory/import-rows.js';

const work = mkdtempSync(join(tmpdir(), 'contact-psi-import-stream-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const HEADER = 'user_id,phones,emails,label,discoverable';

describe('CSV records in chunks', () => {
  it('are the records of the whole text, for any text and any cut points', () => {
    const text = fc.array(fc.constantFrom('a', 'b', ' ', ',', '"', '""', '\n', '\r', '\r\n', 'é', '\t', ';'), { maxLength: 60 }).map((a) => a.join(''));
    const cuts = fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 30 });
    let multi = 0;
    fc.assert(
      fc.property(text, cuts, fc.integer({ min: 1, max: 4 }), (t, sizes, limit) => {
        const whole = parseCsvRecords(t, ',');
        const got: ReturnType<typeof parseCsvRecords> = [];
        let pending = '';
        let at = 0;
        let line = 1;
        let k = 0;
        for (;;) {
          const final = at >= t.length;
          const r = parseCsvChunk(pending, ',', line, final, limit);
          got.push(...r.records);
          pending = pending.slice(r.consumed);
          line = r.nextLine;
          if (r.records.length > 0) continue;
          if (final) break;
          const size = sizes[k++ % sizes.length];
          pending += t.slice(at, at + size);
          at += size;
        }
        if (whole.length > 1) multi++;
        expect(got).toEqual(whole);
      }),
      { numRuns: 2000, seed: 7 },
    );
    expect(multi).toBeGreaterThan(500); // texts of several records, not just one
  });
});

describe('a directory file read in batches', () => {
  it('resumed from any committed position (multi-byte text, BOM, invalid UTF-8) gives the records of one straight read', async () => {
    const cell = fc.constantFrom('u1', 'é', '€', '😀', '"a,\nb"', '', ' x ', '\uFEFF', ';');
    const rowText = fc.array(cell, { minLength: 1, maxLength: 6 }).map((c) => c.join(','));
    let resumedInexact = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(rowText, { maxLength: 12 }), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 3 }), async (rows, bom, broken, batch) => {
        const text = `${bom ? '\uFEFF' : ''}${[HEADER, ...rows].join('\r\n')}`;
        const bytes = Buffer.from(text, 'utf8');
        // A lone continuation byte is invalid UTF-8: offsets after it are not trusted (exact = false).
        const file = join(work, `r${files++}.csv`);
        writeFileSync(file, broken ? Buffer.concat([bytes, Buffer.from([0x0a, 0x80, 0x2c, 0x61])]) : bytes);
        const straight = await openDirectorySource(file, 'csv', START);
        const all = (await straight.next(1000)).records;
        straight.close();
        // ... which are the whole text's records (as parseDirectoryFile reads them).
        const whole = parseCsvRecords(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''), ',').slice(1);
        expect(all).toEqual(whole.map((r, i) => csvRecord(r.fields, i + 2, r.line, r.unterminated)));
        // Read `batch` records, reopen at the position, read on: as a resumed import does.
        const got: unknown[] = [];
        let position: SourcePosition = START;
        for (;;) {
          const source = await openDirectorySource(file, 'csv', position);
          const r = await source.next(batch);
          source.close();
          if (r.records.length === 0) break;
          got.push(...r.records);
          if (!r.position.exact) resumedInexact++;
          position = r.position;
        }
        expect(got).toEqual(all);
      }),
      { numRuns: 150, seed: 3 },
    );
    expect(resumedInexact).toBeGreaterThan(10);
  });
});

describe('the fingerprint table', () => {
  it('finds exactly the strings added, whatever collides (confirmation by row)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('user' as const, 'identifier' as const), fc.string({ maxLength: 4 })), { maxLength: 300 }), fc.array(fc.string({ maxLength: 4 }), { maxLength: 50 }), (entries, probes) => {
        const table = new SeenTable(16);
        const byRow = new Map<number, { kind: string; value: string }>();
        const first = new Map<string, number>();
        entries.forEach(([kind, value], i) => {
          const key = `${kind}:${value}`;
          if (first.has(key)) return;
          first.set(key, i + 1);
          byRow.set(i + 1, { kind, value });
          table.add(kind, value, i + 1);
        });
        for (const kind of ['user', 'identifier'] as const) {
          for (const value of [...probes, ...entries.map((e) => e[1])]) {
            const found = table.find(kind, value, (row) => byRow.get(row)?.kind === kind && byRow.get(row)?.value === value);
            expect(found).toBe(first.get(`${kind}:${value}`));
          }
        }
      }),
      { numRuns: 200, seed: 5 },
    );
  });
});

// Rows drawn from a small pool of users, numbers and addresses: duplicates, numbers taken by
// an earlier row, identifiers moving between users, opt-outs, label changes and bad rows.
const userId = fc.constantFrom('u1', 'u2', 'u3', 'u4', 'u5', ' u6 ', '');
const phone = fc.constantFrom('+41791234567', '+41791234568', '079 123 45 69', '+41 44 668 18 00', '+41 12', 'x');
const email = fc.constantFrom('a@example.org', 'B@Example.org', 'c@example.org', 'not-mail');
const list = <T extends string>(a: fc.Arbitrary<T>) => fc.array(a, { maxLength: 2 }).map((x) => x.join(';'));
const row = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(userId, list(phone), list(email), fc.constantFrom('', 'pk-a', 'pk-b', 'base64:AQID', 'base64:A'), fc.constantFrom('', 'true', 'false', 'no')).map((f) => f.join(',')) },
  { weight: 1, arbitrary: fc.constantFrom('', 'u7,+41791234570', '"u8,+41791234571,,,') },
);
const csv = fc.array(row, { maxLength: 12 }).map((rows) => [HEADER, ...rows].join('\n'));

interface Outcome {
  users: unknown[];
  changes: unknown[];
  version: number;
  errors: DirectoryImportError[];
  result: unknown;
}

async function dump(store: SqliteStore): Promise<Pick<Outcome, 'users' | 'changes' | 'version'>> {
  const users = [];
  for (const id of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8']) users.push(await store.getUser(id));
  return { users, changes: await store.changesSince(0), version: await store.version() };
}

let files = 0;
async function viaStream(before: string | undefined, text: string, batchRows: number): Promise<Outcome> {
  const name = join(work, `s${files++}`);
  const store = SqliteStore.open(`${name}.db`);
  try {
    if (before !== undefined) await store.upsertUsers(parseDirectoryFile(before, { defaultRegion: 'CH' }).users);
    writeFileSync(`${name}.csv`, text);
    const stage = ImportStage.open(`${name}.stage`);
    const errors: DirectoryImportError[] = [];
    try {
      await stageDirectoryFile({ file: `${name}.csv`, stage, defaultRegion: 'CH', batchRows, depth: 2, onError: (e) => errors.push(e) });
    } finally {
      stage.close();
    }
    let result: unknown;
    try {
      const r = await store.applyImportStage(`${name}.stage`, undefined);
      result = { changes: r.changes, version: r.version };
    } catch (err) {
      result = (err as { code?: string }).code;
    }
    return { ...(await dump(store)), errors, result };
  } finally {
    await store.close();
  }
}

async function viaWholeText(before: string | undefined, text: string): Promise<Outcome> {
  const store = SqliteStore.open(':memory:');
  try {
    if (before !== undefined) await store.upsertUsers(parseDirectoryFile(before, { defaultRegion: 'CH' }).users);
    const parsed = parseDirectoryFile(text, { defaultRegion: 'CH' });
    let result: unknown;
    try {
      result = await store.upsertUsers(parsed.users);
    } catch (err) {
      result = (err as { code?: string }).code;
    }
    return { ...(await dump(store)), errors: parsed.errors, result };
  } finally {
    await store.close();
  }
}

describe('a file staged in batches and applied set-wise', () => {
  it('gives the store, change log, version and report that parse + upsertUsers give (fresh and over an existing directory)', async () => {
    let updates = 0;
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(fc.option(csv, { nil: undefined }), csv, fc.integer({ min: 1, max: 4 }), async (before, text, batchRows) => {
        const expected = await viaWholeText(before, text);
        const got = await viaStream(before, text, batchRows);
        expect(got).toEqual(expected);
        if (before !== undefined && typeof expected.result === 'object' && (expected.result as { changes: number }).changes > 0) updates++;
        if (expected.result === 'identifier_taken') taken++;
      }),
      { numRuns: 120, seed: 11 },
    );
    // The generator reaches updates of stored users and files refused whole.
    expect(updates).toBeGreaterThan(10);
    expect(taken).toBeGreaterThan(3);
  }, 120_000);
});

describe('limits of the streaming import', () => {
  it('maxUsers: N data rows (blank lines not counted) are staged, N + 1 are too_large; batchRows and depth must be positive', async () => {
    const rows = ['u1,+41791234567,,,', '', 'u2,+41791234568,,,', 'u3,+41791234569,,,'];
    const file = join(work, `limit${files++}.csv`);
    writeFileSync(file, [HEADER, ...rows].join('\n'));
    const stageAt = (_n: number) => ImportStage.open(join(work, `limit-stage-${files++}`));
    for (const [maxUsers, ok] of [
      [3, true],
      [2, false],
    ] as const) {
      for (const batchRows of [1, 4096]) {
        const stage = stageAt(maxUsers);
        try {
          const staged = stageDirectoryFile({ file, stage, maxUsers, batchRows });
          if (ok) expect((await staged).users).toBe(3);
          else await expect(staged).rejects.toMatchObject({ code: 'too_large' });
        } finally {
          stage.close();
        }
      }
    }
    for (const bad of [{ batchRows: 0 }, { depth: 0 }, { maxUsers: -1 }]) {
      const stage = stageAt(0);
      try {
        await expect(stageDirectoryFile({ file, stage, ...bad })).rejects.toMatchObject({ code: 'invalid_option' });
      } finally {
        stage.close();
      }
    }
  });
});

it('one import per stage file: a second opener is refused with directory_busy until the first closes', () => {
  const path = join(work, `busy${files++}.stage`);
  const first = ImportStage.open(path);
  try {
    expect(() => ImportStage.open(path)).toThrow(expect.objectContaining({ code: 'directory_busy' }));
  } finally {
    first.close();
  }
  ImportStage.open(path).close();
});
