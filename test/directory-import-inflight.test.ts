/**
 * The streaming import's duplicate checks against rows still in flight (ImportStage.accept:
 * a row accepted but whose batch has not committed is in the fingerprint table and is
 * confirmed against the user in memory): with an evaluator that answers late, so that up to
 * `depth` batches of 1-3 rows really wait uncommitted while the next ones are checked, the
 * users staged and every refused row (code, row, reason) are those of the whole-text parse
 * (RowCollector), for files full of repeated user ids and identifiers; the generator is
 * checked to put a duplicate's first row in a batch still in flight, in the same batch, and
 * in a batch already committed.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDirectoryFile } from '../src/directory/import-file.js';
import type { DirectoryImportError } from '../src/directory/import-rows.js';
import { ImportStage } from '../src/directory/import-stage.js';
import { stageDirectoryFile } from '../src/directory/import-stream.js';
import type { TagEvaluator } from '../src/directory/precompute.js';

const work = mkdtempSync(join(tmpdir(), 'contact-psi-import-inflight-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const HEADER = 'user_id,phones,emails,label,discoverable';

const id = fc.constantFrom('u1', 'u2', 'u3', 'u4', ' u1 ');
const phone = fc.constantFrom('+41791234567', '+41791234568', '079 123 45 67', '+41791234569');
const email = fc.constantFrom('a@example.org', 'A@example.org', 'b@example.org');
const row = fc
  .tuple(id, fc.array(phone, { maxLength: 2 }), fc.array(email, { maxLength: 1 }), fc.constantFrom('', 'false'))
  .map(([u, p, e, flag]) => `${u},${p.join(';')},${e.join(';')},,${flag}`);
const file = fc.array(row, { minLength: 1, maxLength: 14 });

/** Tags after a few turns of the event loop: batches stay in flight while later ones are checked. */
const lateEvaluator: TagEvaluator = async (_k, inputs) => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  return inputs.map((x) => new Uint8Array(64).fill(x.length));
};
const suite = { evaluate: () => [] } as never;

/** Where the first row of each duplicate (a refused duplicate_user or identifier_taken) was: same batch, in flight, committed. */
function duplicateDistances(errors: readonly DirectoryImportError[], batchRows: number, depth: number): Set<'same' | 'inflight' | 'committed'> {
  const out = new Set<'same' | 'inflight' | 'committed'>();
  for (const e of errors) {
    const m = /row (\d+)/.exec(e.reason);
    if (e.code !== 'identifier_taken' || m === null) continue;
    const batchOf = (r: number) => Math.floor((r - 2) / batchRows);
    const d = batchOf(e.row) - batchOf(Number(m[1]));
    out.add(d === 0 ? 'same' : d <= depth ? 'inflight' : 'committed');
  }
  return out;
}

let files = 0;
async function staged(text: string, batchRows: number, depth: number) {
  const name = join(work, `f${files++}`);
  writeFileSync(`${name}.csv`, text);
  const stage = ImportStage.open(`${name}.stage`);
  const errors: DirectoryImportError[] = [];
  try {
    await stageDirectoryFile({
      file: `${name}.csv`,
      stage,
      defaultRegion: 'CH',
      batchRows,
      depth,
      tagging: { suite, secretKey: new Uint8Array(32), epoch: 1, publicKey: 'k', evaluator: lateEvaluator },
      onError: (e) => errors.push(e),
    });
  } finally {
    stage.close();
  }
  const db = new Database(`${name}.stage`, { readonly: true });
  try {
    const users = db.prepare('SELECT user_id AS userId, discoverable FROM users ORDER BY row').all() as { userId: string; discoverable: number }[];
    const ids = db.prepare('SELECT u.user_id AS userId, i.identifier FROM ids i JOIN users u ON u.row = i.row ORDER BY i.rowid').all() as { userId: string; identifier: string }[];
    return { users, ids, errors };
  } finally {
    db.close();
    ImportStage.remove(`${name}.stage`);
  }
}

describe('duplicate checks against batches in flight', () => {
  it('the generator puts a duplicate first seen in the same batch, in a batch in flight, and in a committed one', () => {
    const seen = new Set<string>();
    for (const [rows, batchRows, depth] of fc.sample(fc.tuple(file, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), { numRuns: 300, seed: 3 })) {
      const text = [HEADER, ...rows].join('\n');
      for (const d of duplicateDistances(parseDirectoryFile(text, { defaultRegion: 'CH' }).errors, batchRows, depth)) seen.add(d);
    }
    expect([...seen].sort()).toEqual(['committed', 'inflight', 'same']);
  });

  it('stages the users and reports the rows that the whole-text parse gives', async () => {
    await fc.assert(
      fc.asyncProperty(file, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), async (rows, batchRows, depth) => {
        const text = [HEADER, ...rows].join('\n');
        const whole = parseDirectoryFile(text, { defaultRegion: 'CH' });
        const got = await staged(text, batchRows, depth);
        expect(got.errors).toEqual(whole.errors);
        expect(got.users).toEqual(whole.users.map((u) => ({ userId: u.userId, discoverable: u.discoverable ? 1 : 0 })));
        expect(got.ids).toEqual(whole.users.flatMap((u) => u.identifiers.map((identifier) => ({ userId: u.userId, identifier }))));
      }),
      { numRuns: 150, seed: 4 },
    );
  }, 120_000);
});
