/**
 * The import's batch tagging (src/directory/import-tag.ts: identifiers encoded into one
 * buffer, the user record as the label to seal, results indexed by each user's first tag)
 * against the path it replaced (precompute.ts evaluateAndSeal on one MissingTag per
 * identifier, then an object per identifier): the same tag, lookup key and seal for every
 * identifier of every discoverable user, none for a hidden one, whatever the evaluator
 * (none, a plain one, the pool's evaluateAndSeal), for identifiers of 1- to 4-byte UTF-8
 * characters, batches with no discoverable user, and users of up to 64 identifiers. Then
 * the same through a stage file: what commitBatch writes per identifier is what the old
 * per-identifier objects wrote.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRng } from '../src/contacts/generate.js';
import { ImportStage, type StagedUser } from '../src/directory/import-stage.js';
import { tagBatch, type TaggableUser } from '../src/directory/import-tag.js';
import { evaluateAndSeal, type TagEvaluator } from '../src/directory/precompute.js';
import { START } from '../src/directory/import-source.js';
import { sealLabelsWith } from '../src/directory/seal.js';
import { loadGroup } from '../src/group/select.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';

const work = mkdtempSync(join(tmpdir(), 'contact-psi-import-tag-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let suite: OprfSuite;
let secretKey: Uint8Array;
beforeAll(async () => {
  suite = createSuite('ristretto255-SHA512', Modes.OPRF, await loadGroup('ristretto255', 'auto'));
  secretKey = suite.generateKeyPair(seededRng(13)).secretKey;
});

/** Characters of 1, 2, 3 and 4 UTF-8 bytes (the last a surrogate pair: 2 UTF-16 units). */
const char = fc.constantFrom('a', '7', '+', '@', '.', 'é', 'ß', '€', '中', '😀', '𝄞');
const identifier = fc.array(char, { minLength: 1, maxLength: 12 }).map((cs) => `mailto:${cs.join('')}`);
const user = fc.record({
  userId: fc.string({ minLength: 1, maxLength: 8 }),
  identifiers: fc.oneof({ weight: 8, arbitrary: fc.uniqueArray(identifier, { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: fc.uniqueArray(identifier, { minLength: 60, maxLength: 64 }) }),
  label: fc.uint8Array({ maxLength: 40 }),
  discoverable: fc.boolean(),
});
const batch = fc.array(user, { minLength: 1, maxLength: 12 });

type Which = 'none' | 'plain' | 'seal';
/** The three evaluators a stage meets: none (suite.evaluate), a plain one, one that seals too (the pool's shape). */
const evaluatorOf = (which: Which): TagEvaluator | undefined => {
  if (which === 'none') return undefined;
  const plain = async (k: Uint8Array, inputs: readonly Uint8Array[]) => suite.evaluate(k, inputs);
  if (which === 'plain') return plain;
  return Object.assign(plain, {
    evaluateAndSeal: async (k: Uint8Array, inputs: readonly Uint8Array[], labels: readonly { userId: string; label: Uint8Array }[], nonces: Uint8Array) => {
      const tags = suite.evaluate(k, inputs);
      return { tags, seals: sealLabelsWith(tags.map((tag, i) => ({ tag, userId: labels[i].userId, label: labels[i].label })), nonces) };
    },
  });
};

/** The replaced path: one MissingTag per identifier of each discoverable user, precompute's evaluateAndSeal, an object per identifier. */
async function oldTags(users: readonly TaggableUser[], evaluator: TagEvaluator | undefined) {
  const entries = users.flatMap((u) => (u.user.discoverable ? u.user.identifiers.map((identifier) => ({ identifier, userId: u.user.userId, label: u.user.label, labelVersion: 0 })) : []));
  const perUser: ({ tag: Uint8Array; lookupKey: Uint8Array; sealed: Uint8Array }[] | undefined)[] = users.map(() => undefined);
  if (entries.length === 0) return perUser;
  const { tags, seals } = await evaluateAndSeal({ suite, secretKey, evaluator }, entries);
  let i = 0;
  users.forEach((u, k) => {
    if (!u.user.discoverable) return;
    perUser[k] = u.user.identifiers.map(() => ({ tag: tags[i], lookupKey: seals[i].lookupKey, sealed: seals[i++].sealed }));
  });
  return perUser;
}

const bytes = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('import batch tagging', () => {
  it('the generators reach hidden users, all-hidden batches, 4-byte characters and 64-identifier users', () => {
    const samples = fc.sample(batch, { numRuns: 400, seed: 5 });
    expect(samples.some((b) => b.some((u) => !u.discoverable))).toBe(true);
    expect(samples.some((b) => b.every((u) => !u.discoverable))).toBe(true);
    expect(samples.some((b) => b.some((u) => u.identifiers.some((i) => /[\u{10000}-\u{10FFFF}]/u.test(i))))).toBe(true);
    expect(samples.some((b) => b.some((u) => u.identifiers.length === 64))).toBe(true);
  });

  it('gives every identifier of a discoverable user the tag and seal of the per-identifier path, a hidden user none', async () => {
    // The canonical identifiers' UTF-8 is what identifierBytes gives (its parse only checks them):
    // the old path is fed identifiers it accepts, so arbitrary strings are compared with TextEncoder's bytes.
    const utf8 = new TextEncoder();
    await fc.assert(
      fc.asyncProperty(batch, fc.constantFrom<Which>('none', 'plain', 'seal'), async (drawn, which) => {
        const users: TaggableUser[] = drawn.map((u) => ({ user: u }));
        const evaluator = evaluatorOf(which);
        const got = await tagBatch(suite, secretKey, evaluator, users);
        const discoverable = users.filter((u) => u.user.discoverable);
        if (discoverable.length === 0) {
          expect(got).toBeUndefined();
          return;
        }
        expect(got).toBeDefined();
        let next = 0;
        for (const u of users) {
          if (!u.user.discoverable) {
            expect(u.tagAt).toBeUndefined();
            continue;
          }
          expect(u.tagAt).toBe(next);
          u.user.identifiers.forEach((id, k) => {
            const tag = suite.evaluate(secretKey, [utf8.encode(id)])[0];
            expect(bytes(got!.tags[next + k])).toBe(bytes(tag));
            const [seal] = sealLabelsWith([{ tag, userId: u.user.userId, label: u.user.label }], new Uint8Array(24));
            expect(bytes(got!.seals[next + k].lookupKey)).toBe(bytes(seal.lookupKey));
            expect(bytes(got!.seals[next + k].sealed)).toBe(bytes(seal.sealed));
          });
          next += u.user.identifiers.length;
        }
        expect(got!.tags.length).toBe(next);
      }),
      { numRuns: 60, seed: 11 },
    );
  });

  it('equals precompute evaluateAndSeal on canonical identifiers (the replaced path)', async () => {
    const tel = fc.integer({ min: 0, max: 9_999_999 }).map((n) => `tel:+4179${String(n).padStart(7, '0')}`);
    const mail = fc.stringMatching(/^[a-z0-9]{1,10}$/).map((s) => `mailto:${s}@example.org`);
    const canonicalUser = fc.record({
      userId: fc.stringMatching(/^u[0-9]{1,6}$/),
      identifiers: fc.uniqueArray(fc.oneof(tel, mail), { minLength: 1, maxLength: 3 }),
      label: fc.uint8Array({ maxLength: 32 }),
      discoverable: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(canonicalUser, { minLength: 1, maxLength: 10 }), fc.constantFrom<Which>('none', 'plain', 'seal'), async (drawn, which) => {
        const evaluator = evaluatorOf(which);
        const users: TaggableUser[] = drawn.map((u) => ({ user: u }));
        const old = await oldTags(users, evaluator);
        const got = await tagBatch(suite, secretKey, evaluator, users);
        users.forEach((u, k) => {
          const want = old[k];
          if (want === undefined) return expect(u.tagAt).toBeUndefined();
          want.forEach((w, j) => {
            expect(bytes(got!.tags[u.tagAt! + j])).toBe(bytes(w.tag));
            expect(bytes(got!.seals[u.tagAt! + j].lookupKey)).toBe(bytes(w.lookupKey));
            expect(bytes(got!.seals[u.tagAt! + j].sealed)).toBe(bytes(w.sealed));
          });
        });
      }),
      { numRuns: 40, seed: 12 },
    );
  });

  it('a stage batch holds per identifier the tag, lookup key and seal tagBatch gave it (NULL for a hidden user)', async () => {
    let files = 0;
    await fc.assert(
      fc.asyncProperty(batch, async (drawn) => {
        const path = join(work, `stage-${files++}`);
        const users: StagedUser[] = drawn.map((u, i) => ({ row: i + 2, user: { ...u, userId: `${u.userId}#${i}` } }));
        const computed = await tagBatch(suite, secretKey, undefined, users);
        const stage = ImportStage.open(path);
        try {
          stage.reset({ digest: 'd', size: 0, format: 'csv', region: undefined, maxUsers: 100 }, 1, 'k');
          stage.commitBatch(users, [], { ...START, row: users.length + 1 }, users.length, computed);
          expect(stage.counts()).toEqual({ users: users.length, rejected: 0, tags: computed?.tags.length ?? 0 });
        } finally {
          stage.close();
        }
        const db = new Database(path, { readonly: true });
        try {
          const rows = db.prepare('SELECT row, identifier, tag, lookup_key, sealed FROM ids ORDER BY rowid').all() as { row: number; identifier: string; tag: Buffer | null; lookup_key: Buffer | null; sealed: Buffer | null }[];
          const want = users.flatMap((u) =>
            u.user.identifiers.map((identifier, k) => {
              const at = u.tagAt === undefined ? undefined : u.tagAt + k;
              return {
                row: u.row,
                identifier,
                tag: at === undefined ? null : bytes(computed!.tags[at]),
                lookup_key: at === undefined ? null : bytes(computed!.seals[at].lookupKey),
                sealed: at === undefined ? null : bytes(computed!.seals[at].sealed),
              };
            }),
          );
          expect(rows.map((r) => ({ ...r, tag: r.tag && bytes(r.tag), lookup_key: r.lookup_key && bytes(r.lookup_key), sealed: r.sealed && bytes(r.sealed) }))).toEqual(want);
        } finally {
          db.close();
        }
        ImportStage.remove(path);
      }),
      { numRuns: 25, seed: 13 },
    );
  });
});
