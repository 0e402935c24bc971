/**
 * The outputs files of one sync share their entry keys (output-cache.ts EntryKeys: one HMAC
 * per identifier instead of one per identifier per file read or written, issue 13 §1).
 * Sharing must change nothing on disk or in what is read: two scopes written and read
 * through one EntryKeys give the very files and entries that caches with their own keys
 * give, for any book, any two cache keys (accounts, identities) and any outputs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { EntryKeys, OutputCache } from '../src/client/output-cache.js';
import type { KnownOutputs } from '../src/protocol/discovery/known-outputs.js';

const root = mkdtempSync(join(tmpdir(), 'entry-keys-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let run = 0;

const book = fc.uniqueArray(fc.oneof(fc.stringMatching(/^tel:\+[1-9][0-9]{6,12}$/), fc.string({ maxLength: 12 })), { minLength: 1, maxLength: 30 });

describe('entry keys shared by the outputs files of a sync', () => {
  it('give the files and entries of caches that key on their own', () => {
    fc.assert(
      fc.property(book, fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 0, max: 30 }), (ids, keyA, keyB, cut) => {
        const dir = join(root, String(run++));
        const outputs = (shift: number): KnownOutputs => ({
          identity: new Uint8Array(32).fill(7),
          epoch: 3,
          publicKey: new Uint8Array(32).fill(1),
          version: 2,
          entries: new Map(ids.slice(0, cut).map((id, i) => [id, { output: new Uint8Array(64).fill((i + shift) & 0xff), labelChecked: i % 2 === 0, match: i % 3 === 0 ? { userId: `u${i}`, label: new Uint8Array([i]) } : undefined }])),
        });
        const shared = new EntryKeys();
        const files: Buffer[][] = [[], []];
        const loaded: unknown[][] = [[], []];
        for (const [n, keys] of [[0, shared], [1, undefined]] as const) {
          const a = new OutputCache(join(dir, `${n}a`), 'ws://a', keys);
          const b = new OutputCache(join(dir, `${n}b`), 'identity:x', keys);
          a.save(outputs(0), keyA);
          b.save(outputs(1), keyB);
          files[n].push(readFileSync(a.path), readFileSync(b.path));
          // Read back with either key: only the file's own key finds entries.
          for (const c of [a, b]) for (const key of [keyA, keyB]) loaded[n].push(c.load(ids, () => key));
        }
        expect(files[0].map((f) => f.subarray(0, f.length - 32)).every((f, i) => f.equals(files[1][i].subarray(0, files[1][i].length - 32)))).toBe(true);
        expect(loaded[0]).toEqual(loaded[1]);
      }),
      { numRuns: 60 },
    );
  });
});
