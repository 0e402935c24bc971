/**
 * Precompute split across the nodes of a fleet (spec/directory.md "PostgreSQL store", work
 * claims): the tags missing from an epoch, after a large import or for the next epoch of a
 * rotation, are cut into identifier ranges (work_items), and every node that joins claims
 * ranges one at a time with FOR UPDATE SKIP LOCKED, evaluates and seals their tags, and
 * stores them. The claim is the row lock of the claimant's open transaction: a node that
 * dies (kill -9 included) loses its connection, PostgreSQL rolls the transaction back, and
 * the range is free again at once for the next node, with no lease to wait out. Tags it had
 * stored before dying are kept (each putTags is its own transaction of whole records), and
 * the range's next claimant evaluates only what is still missing: nothing is lost, and
 * nothing is computed twice except what a dead node had evaluated but not yet stored.
 *
 * Correctness never depends on the split: tags are deterministic (F_k(identifier)), and the
 * regular precompute pass that follows (Directory.precompute) fills whatever is left.
 */
import type { Pool, PoolClient } from 'pg';
import { ContactPsiError } from '../../errors.js';
import type { OprfSuite } from '../../oprf/suite.js';
import { DEFAULT_PRECOMPUTE_BATCH, evaluateAndSeal, tagRecordsOf, type TagEvaluator } from '../precompute.js';
import type { DirectoryStore } from '../types.js';
import { compareCodePoints } from '../users.js';

export interface SharedFillOptions {
  readonly pool: Pool;
  readonly store: DirectoryStore;
  readonly suite: OprfSuite;
  readonly secretKey: Uint8Array;
  readonly epoch: number;
  /** This node's name, recorded on the ranges it completes (per-node work in `demo --fleet`). */
  readonly node: string;
  /** Identifiers per claimed range (default 4096, precompute's batch). */
  readonly rangeSize?: number;
  readonly evaluator?: TagEvaluator;
  /** Called after each range this node completes. */
  readonly onRange?: (computed: number) => void;
  /**
   * Plan the ranges if no node has (default true). False: only help with a fill another node
   * planned, and return at once when there is none (a node starting up).
   */
  readonly plan?: boolean;
}

export interface SharedFillResult {
  /** Ranges this node completed. */
  readonly ranges: number;
  /** Tags this node evaluated and stored. */
  readonly computed: number;
}

const PAIR_MISSING = `FROM identifiers i JOIN users u ON u.user_id = i.user_id
  WHERE u.discoverable AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.epoch = $1 AND t.identifier = i.identifier AND t.user_id = i.user_id)`;

/** PostgreSQL's query_canceled: the statement timeout ended a wait for another node's claim. */
const QUERY_CANCELED = '57014';

/**
 * A checked-out client whose connection dies (the database restarted, an operator ended the
 * session) emits 'error'; with no listener that would crash the node. The error also fails
 * the claim's next query, which is where it is handled; the broken client is then destroyed.
 */
function onConnectionError(c: PoolClient): (() => void) & { failed(): Error | undefined } {
  let failure: Error | undefined;
  const listener = (err: Error) => (failure = err);
  c.on('error', listener);
  return Object.assign(() => void c.off('error', listener), { failed: () => failure });
}

export const fillJobName = (epoch: number): string => `fill:${epoch}`;

/**
 * Joins the fill of `epoch`'s missing tags: plans the ranges if no node has (one planner,
 * under an advisory lock), then claims and computes ranges until none is left, waiting for
 * ranges other nodes hold so that one of them dying hands its range here.
 */
export async function sharedFill(options: SharedFillOptions): Promise<SharedFillResult> {
  const size = options.rangeSize;
  if (size !== undefined && !(Number.isSafeInteger(size) && size >= 1)) throw new ContactPsiError('invalid_option', 'rangeSize must be a positive integer');
  const job = fillJobName(options.epoch);
  if (options.plan ?? true) await planRanges(options, job);
  let ranges = 0;
  let computed = 0;
  for (;;) {
    const claimed = (await claimRange(options, job, true)) ?? (await claimRange(options, job, false));
    if (claimed === undefined) {
      if (!(await hasOpenRanges(options.pool, job))) return { ranges, computed };
      continue; // a holder finished or died between the two claims: look again
    }
    if (claimed === 'busy') continue;
    ranges++;
    computed += claimed;
    options.onRange?.(claimed);
  }
}

async function hasOpenRanges(pool: Pool, job: string): Promise<boolean> {
  return (await pool.query('SELECT 1 FROM work_items WHERE job = $1 AND done_by IS NULL LIMIT 1', [job])).rows.length > 0;
}

/** Cuts the missing pairs into ranges of `rangeSize` identifiers, unless open ranges of the job exist. */
async function planRanges(options: SharedFillOptions, job: string): Promise<void> {
  const size = Math.max(1, Math.trunc(options.rangeSize ?? DEFAULT_PRECOMPUTE_BATCH));
  const c = await options.pool.connect();
  const detach = onConnectionError(c);
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 1))', [job]);
    // Tags complete at the current version: nothing is missing, and the scan below (0.7 s at
    // 100,000 users) is not needed.
    const complete = (await c.query('SELECT 1 FROM epochs e JOIN state s ON s.id = 1 WHERE e.epoch = $1 AND e.tag_version = s.version', [options.epoch])).rows.length > 0;
    if (!complete && (await c.query('SELECT 1 FROM work_items WHERE job = $1 AND done_by IS NULL LIMIT 1', [job])).rows.length === 0) {
      await c.query('DELETE FROM work_items WHERE job = $1', [job]);
      // Only the range ends: every size-th missing identifier, in identifier order.
      const ends = await c.query<{ identifier: string }>(
        `SELECT identifier FROM (SELECT i.identifier, row_number() OVER (ORDER BY i.identifier) AS n ${PAIR_MISSING}) m
         WHERE n % $2 = 0 ORDER BY identifier`,
        [options.epoch, size],
      );
      const bounds = ends.rows.map((r) => r.identifier);
      const any = bounds.length > 0 || (await c.query(`SELECT 1 ${PAIR_MISSING} LIMIT 1`, [options.epoch])).rows.length > 0;
      if (any) {
        // (after, last]; the last range is open-ended (NULL), catching pairs added meanwhile.
        const afters = ['', ...bounds];
        const lasts: (string | null)[] = [...bounds, null];
        await c.query(
          `INSERT INTO work_items (job, seq, after_identifier, last_identifier)
           SELECT $1, s.ord - 1, s.after, s.last FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS s (after, last, ord)`,
          [job, afters, lasts],
        );
      }
    }
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    detach();
    c.release(detach.failed());
  }
}

/**
 * Claims one open range (skipping ranges other nodes hold, or with `skipLocked` false
 * waiting for one), computes its missing tags and marks it done, in the one transaction
 * that holds the claim. Tags computed; undefined when there was no range to claim; 'busy'
 * when the wait for another node's range timed out.
 */
async function claimRange(options: SharedFillOptions, job: string, skipLocked: boolean): Promise<number | undefined | 'busy'> {
  const c = await options.pool.connect();
  const detach = onConnectionError(c);
  try {
    await c.query('BEGIN');
    let row: { seq: number; after_identifier: string; last_identifier: string | null } | undefined;
    try {
      row = (
        await c.query(
          `SELECT seq, after_identifier, last_identifier FROM work_items WHERE job = $1 AND done_by IS NULL
           ORDER BY seq LIMIT 1 FOR UPDATE${skipLocked ? ' SKIP LOCKED' : ''}`,
          [job],
        )
      ).rows[0];
    } catch (err) {
      if ((err as { code?: string }).code !== QUERY_CANCELED) throw err;
      await c.query('ROLLBACK');
      return 'busy';
    }
    if (row === undefined) {
      await c.query('COMMIT');
      return undefined;
    }
    const computed = await computeRange(options, row.after_identifier, row.last_identifier);
    await c.query('UPDATE work_items SET done_by = $3, computed = $4 WHERE job = $1 AND seq = $2', [job, row.seq, options.node, computed]);
    await c.query('COMMIT');
    return computed;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    detach();
    c.release(detach.failed());
  }
}

/** Evaluates, seals and stores the missing tags of (after, last] (last null: to the end). */
async function computeRange(options: SharedFillOptions, after: string, last: string | null): Promise<number> {
  const { store, epoch, suite, secretKey, evaluator } = options;
  const job = { store, suite, secretKey, epoch, evaluator };
  const limit = Math.max(1, Math.trunc(options.rangeSize ?? DEFAULT_PRECOMPUTE_BATCH));
  let cursor: string | undefined = after === '' ? undefined : after;
  let computed = 0;
  for (;;) {
    const page = await store.missingTags(epoch, cursor, limit);
    const batch = last === null ? page : page.filter((e) => compareCodePoints(e.identifier, last) <= 0);
    if (batch.length === 0) return computed;
    await store.putTags(epoch, tagRecordsOf(batch, await evaluateAndSeal(job, batch)));
    computed += batch.length;
    if (batch.length < page.length || page.length < limit) return computed;
    cursor = page[page.length - 1].identifier;
  }
}
