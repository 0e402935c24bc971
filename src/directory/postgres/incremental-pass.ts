/**
 * The fleet leader's precompute for a small change (spec/directory.md "PostgreSQL store",
 * change propagation): instead of the full pass (precompute.ts), whose prune, missing and
 * reseal queries each scan every identifier or tag (about 0.25 s each at 100,000 users, ten
 * times that at 1M), it brings up to date only the tags of the users the change log names
 * since the epoch's tags were last complete. That is exact: a user's tags (and their seals)
 * change only through a change-log row of that user (a moved identifier names both users).
 *
 * Same writes as the full pass (pruneTags, putTags, putSealedLabels: logged as tag deltas
 * under the version lock), so it can race a full pass of another process (a CLI import) and
 * both leave the same tags. It is complete only if no change landed meanwhile:
 * completeTags(epoch, version) refuses otherwise, and the caller runs it again.
 */
import type { OprfSuite } from '../../oprf/suite.js';
import { evaluateAndSeal, tagRecordsOf, type TagEvaluator } from '../precompute.js';
import { sealLabels } from '../seal.js';
import type { FleetTrace } from './fleet-node.js';
import type { PostgresStore } from './store.js';

/** Change-log rows past which the full pass is used instead (default): a large import is split across nodes (shared-fill.ts). */
export const DEFAULT_INCREMENTAL_CHANGES = 10_000;

export interface IncrementalPassOptions {
  readonly store: PostgresStore;
  readonly suite: OprfSuite;
  readonly secretKey: Uint8Array;
  readonly epoch: number;
  readonly evaluator?: TagEvaluator;
  /** At most this many change-log rows since the last complete version (default DEFAULT_INCREMENTAL_CHANGES). */
  readonly maxChanges?: number;
  /**
   * At most this many tags to evaluate here (default: no bound); past it the pass stops
   * before evaluating, and the caller splits the work across the fleet (shared-fill.ts).
   */
  readonly maxMissing?: number;
  /** Each step as it ends (bench -- fleet --timeline). */
  readonly trace?: FleetTrace;
}

export interface IncrementalPass {
  /** The version the pass brought the tags to. */
  readonly version: number;
  /** True when the tags are complete at `version` (no change landed during the pass). */
  readonly complete: boolean;
  readonly users: number;
  readonly computed: number;
  readonly pruned: number;
  readonly resealed: number;
}

/**
 * Brings `epoch`'s tags from their last complete version to the current one, touching only
 * the changed users; undefined when that cannot be done incrementally (the tags were never
 * complete, the epoch's delta log has not started, more than `maxChanges` changes) and the
 * full pass must run, or when more than `maxMissing` tags are missing (the shared fill first).
 */
export async function incrementalPass(options: IncrementalPassOptions): Promise<IncrementalPass | undefined> {
  const { store, epoch } = options;
  const maxChanges = options.maxChanges ?? DEFAULT_INCREMENTAL_CHANGES;
  const record = await store.getEpoch(epoch);
  if (record?.tagVersion === undefined || record.deltaFloor === undefined) return undefined;
  // Read first: a change committed after this is not complete at `version` (completeTags says so).
  const version = await store.version();
  const from = record.tagVersion;
  if (version === from) return { version, complete: true, users: 0, computed: 0, pruned: 0, resealed: 0 };
  // Versions are dense (one per change-log row): the number of changes without counting them.
  if (version < from || version - from > maxChanges) return undefined;
  const trace = options.trace;
  trace?.('pass: version read', { version });
  const users = await store.changedUsers(from, version);
  trace?.('pass: changed users', { count: users.length });
  const pruned = await store.pruneTagsOf(epoch, users);
  trace?.('pass: pruned', { count: pruned });
  const missing = await store.missingTagsOf(epoch, users);
  trace?.('pass: missing found', { count: missing.length });
  if (missing.length > (options.maxMissing ?? Number.POSITIVE_INFINITY)) return undefined;
  if (missing.length > 0) {
    const job = { store, suite: options.suite, secretKey: options.secretKey, epoch, evaluator: options.evaluator };
    const evaluated = await evaluateAndSeal(job, missing);
    trace?.('pass: evaluated', { count: missing.length });
    await store.putTags(epoch, tagRecordsOf(missing, evaluated));
    trace?.('pass: tags stored', { count: missing.length });
  }
  const unsealed = await store.unsealedTagsOf(epoch, users);
  if (unsealed.length > 0) {
    const sealed = sealLabels(unsealed);
    await store.putSealedLabels(
      epoch,
      unsealed.map((e, i) => ({ identifier: e.identifier, userId: e.userId, sealed: sealed[i], labelVersion: e.labelVersion })),
    );
  }
  trace?.('pass: resealed', { count: unsealed.length });
  const complete = await store.completeTags(epoch, version, true);
  trace?.('pass: complete', { version, count: complete ? 1 : 0 });
  return { version, complete, users: users.length, computed: missing.length, pruned, resealed: unsealed.length };
}
