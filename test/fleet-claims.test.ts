/**
 * Issue 11 §4, precompute split across nodes (src/directory/postgres/shared-fill.ts), against
 * a real PostgreSQL: nodes claiming identifier ranges with FOR UPDATE SKIP LOCKED store
 * exactly the tags one node alone would, and a node that dies holding a claim loses
 * nothing: its range is taken over the moment its connection ends.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { generateDirectory } from '../src/directory/generate.js';
import { precomputeTags, type TagEvaluator } from '../src/directory/precompute.js';
import { sharedFill, fillJobName } from '../src/directory/postgres/shared-fill.js';
import { PostgresStore } from '../src/directory/postgres/store.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import { voprfSuite } from './helpers/discovery.js';
import { freshDatabase, stopPostgres } from './helpers/postgres.js';
import { seededRng } from './helpers/rng.js';

afterAll(() => stopPostgres(), 60_000);
const suite = voprfSuite();
const EPOCH = 1;

/** The tags one node alone computes (SQLite, the reference), packed in tag order. */
async function referenceTags(users: ReturnType<typeof generateDirectory>, secretKey: Uint8Array): Promise<string> {
  const store = SqliteStore.open(':memory:');
  await store.upsertUsers(users);
  await precomputeTags({ store, suite, secretKey, epoch: EPOCH });
  const set = await store.readTagSet(EPOCH);
  await store.close();
  return Buffer.from(set.packed).toString('hex');
}

const withApplicationName = (url: string, name: string) => {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
};

describe('shared precompute', () => {
  it('any number of nodes and any range size store the tags one node would, each range done once', async () => {
    const caseArb = fc.record({
      users: fc.integer({ min: 0, max: 300 }),
      nodes: fc.integer({ min: 1, max: 4 }),
      rangeSize: fc.integer({ min: 1, max: 120 }),
      seed: fc.integer({ min: 1, max: 1_000_000 }),
    });
    // The generator reaches empty directories, one node, ranges of one identifier, and more ranges than nodes.
    const sample = fc.sample(caseArb, { numRuns: 300, seed: 11 });
    expect(sample.some((c) => c.users === 0)).toBe(true);
    expect(sample.some((c) => c.nodes === 1)).toBe(true);
    expect(sample.some((c) => c.rangeSize === 1)).toBe(true);
    expect(sample.some((c) => c.users / c.rangeSize > c.nodes * 2)).toBe(true);
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ users: count, nodes, rangeSize, seed }) => {
        const users = generateDirectory(count, seededRng(seed));
        const secretKey = suite.generateKeyPair(seededRng(seed + 1)).secretKey;
        const url = await freshDatabase();
        const stores = await Promise.all(Array.from({ length: nodes }, () => PostgresStore.open(url, { maxConnections: 3 })));
        try {
          await stores[0].upsertUsers(users);
          const results = await Promise.all(
            stores.map((store, i) => sharedFill({ pool: store.pool, store, suite, secretKey, epoch: EPOCH, node: `n${i}`, rangeSize })),
          );
          const set = await stores[0].readTagSet(EPOCH);
          expect(set.missing).toBe(0);
          expect(Buffer.from(set.packed).toString('hex')).toBe(await referenceTags(users, secretKey));
          // Every tag computed once: the nodes' counts add up to the discoverable pairs.
          expect(results.reduce((n, r) => n + r.computed, 0)).toBe(set.count);
          const items = await stores[0].pool.query<{ done_by: string | null }>('SELECT done_by FROM work_items WHERE job = $1', [fillJobName(EPOCH)]);
          expect(items.rows.every((r) => r.done_by !== null)).toBe(true);
          expect(results.reduce((n, r) => n + r.ranges, 0)).toBe(items.rows.length);
        } finally {
          for (const s of stores) await s.close();
        }
      }),
      { numRuns: 6 },
    );
  }, 600_000);

  it('a node that dies holding a claim loses nothing: its range goes to another node when its connection ends', async () => {
    const users = generateDirectory(200, seededRng(5));
    const secretKey = suite.generateKeyPair(seededRng(6)).secretKey;
    const url = await freshDatabase();
    const dying = await PostgresStore.open(withApplicationName(url, 'dying-node'), { maxConnections: 3 });
    const survivor = await PostgresStore.open(url, { maxConnections: 3 });
    await survivor.upsertUsers(users);
    // The dying node's evaluator: reports its claim, then never answers (a hung or dead process).
    let claimed!: () => void;
    const hasClaimed = new Promise<void>((resolve) => (claimed = resolve));
    let fail!: (err: Error) => void;
    const stuck: TagEvaluator = () => {
      claimed();
      return new Promise((_, reject) => (fail = reject));
    };
    const dyingFill = sharedFill({ pool: dying.pool, store: dying, suite, secretKey, epoch: EPOCH, node: 'dying', rangeSize: 50, evaluator: stuck });
    dyingFill.catch(() => {});
    await hasClaimed;
    const survivorFill = sharedFill({ pool: survivor.pool, store: survivor, suite, secretKey, epoch: EPOCH, node: 'survivor', rangeSize: 50 });
    // Kill the dying node's sessions, as a crash would (the server ends its transaction).
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dying-node'`);
    await admin.end();
    const result = await survivorFill;
    fail(new Error('the process died'));
    await expect(dyingFill).rejects.toBeDefined();
    const set = await survivor.readTagSet(EPOCH);
    expect(set.missing).toBe(0);
    expect(Buffer.from(set.packed).toString('hex')).toBe(await referenceTags(users, secretKey));
    expect(result.computed).toBe(set.count);
    const doneBy = await survivor.pool.query<{ done_by: string }>('SELECT DISTINCT done_by FROM work_items WHERE job = $1', [fillJobName(EPOCH)]);
    expect(doneBy.rows.map((r) => r.done_by)).toEqual(['survivor']);
    await survivor.close();
    await dying.close().catch(() => {});
  }, 300_000);
});
