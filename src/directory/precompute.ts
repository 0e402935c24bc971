/**
 * Tags for the directory: F_k(identifierBytes(identifier)) for every discoverable
 * identifier of the epoch, computed once and kept in the store, so a restart or a new
 * snapshot costs no group operations. Incremental: only pairs without a tag are evaluated,
 * and tags of removed or opted-out pairs are dropped first. Each new tag is stored with its
 * label sealed under it (seal.ts); a later label change is re-sealed without evaluating.
 */
import { identifierBytes } from '../contacts/identifier.js';
import { ContactPsiError } from '../errors.js';
import type { OprfSuite } from '../oprf/suite.js';
import { lookupKeyOf } from './lookup.js';
import { sealLabels } from './seal.js';
import type { DirectoryStore, Progress, TagRecord } from './types.js';

export const DEFAULT_PRECOMPUTE_BATCH = 4096;

export interface PrecomputeResult {
  /** Tags evaluated and stored by this pass. */
  readonly computed: number;
  /** Tags deleted: removed users, opted-out users, moved identifiers (and, from `Directory.precompute`, epochs without a key). */
  readonly pruned: number;
}

export interface PrecomputePass extends PrecomputeResult {
  /** Stored tags whose label was (re-)sealed because it changed or had no seal. */
  readonly resealed: number;
  /** The directory version the pass started at. */
  readonly version: number;
  /** True when nothing changed during the pass: the tags are complete at `version` (store.completeTags). */
  readonly complete: boolean;
}

/**
 * Computes F_k(x) for a batch, as suite.evaluate does; lets a caller move the group work off
 * the event loop (src/parallel poolEvaluator). It must return suite.evaluate's bytes.
 */
export type TagEvaluator = (secretKey: Uint8Array, inputs: readonly Uint8Array[]) => Promise<Uint8Array[]>;

export interface PrecomputeJob {
  readonly store: DirectoryStore;
  readonly suite: OprfSuite;
  readonly secretKey: Uint8Array;
  readonly epoch: number;
  readonly batchSize?: number;
  readonly onProgress?: Progress;
  /** Default: suite.evaluate on this thread. */
  readonly evaluator?: TagEvaluator;
  /**
   * Start the epoch's delta log when the pass completes (the current epoch: from then on
   * every tag change is logged). False for an epoch being prepared by a rotation, whose
   * initial tags no client needs as a delta.
   */
  readonly startDeltaLog?: boolean;
}

/** Lets the event loop run between batches, so a server keeps answering during a long pass. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function precomputeTags(job: PrecomputeJob): Promise<PrecomputePass> {
  const { store, suite, secretKey, epoch, onProgress, evaluator } = job;
  const batchSize = Math.max(1, Math.trunc(job.batchSize ?? DEFAULT_PRECOMPUTE_BATCH));
  // Read first: if a writer moves the version during the pass, the pass is not complete.
  const version = await store.version();
  const pruned = await store.pruneTags(epoch);
  let total = await store.countMissingTags(epoch);
  let computed = 0;
  let after: string | undefined;
  onProgress?.(0, total);
  for (;;) {
    const batch = await store.missingTags(epoch, after, batchSize);
    if (batch.length === 0) break;
    const inputs = batch.map((e) => identifierBytes(e.identifier));
    const tags = evaluator === undefined ? suite.evaluate(secretKey, inputs) : await evaluator(secretKey, inputs);
    if (tags.length !== batch.length) throw new ContactPsiError('evaluator_failed', `evaluator returned ${tags.length} tags for ${batch.length} identifiers`);
    const sealed = sealLabels(batch.map((e, i) => ({ tag: tags[i], userId: e.userId, label: e.label })));
    const records: TagRecord[] = batch.map((e, i) => ({
      identifier: e.identifier,
      userId: e.userId,
      tag: tags[i],
      lookupKey: lookupKeyOf(tags[i]),
      sealed: sealed[i],
      labelVersion: e.labelVersion,
    }));
    await store.putTags(epoch, records);
    computed += batch.length;
    after = batch[batch.length - 1].identifier;
    total = Math.max(total, computed); // another process may have added users meanwhile
    onProgress?.(computed, total);
    await yieldToEventLoop();
  }
  const resealed = await resealLabels(store, epoch, batchSize);
  const complete = await store.completeTags(epoch, version, job.startDeltaLog ?? false);
  return { computed, pruned, resealed, version, complete };
}

/** Seals labels that changed (or were never sealed) under the tags already stored: no group work. */
async function resealLabels(store: DirectoryStore, epoch: number, batchSize: number): Promise<number> {
  let resealed = 0;
  let after: string | undefined;
  for (;;) {
    const batch = await store.unsealedTags(epoch, after, batchSize);
    if (batch.length === 0) return resealed;
    const sealed = sealLabels(batch);
    await store.putSealedLabels(
      epoch,
      batch.map((e, i) => ({ identifier: e.identifier, userId: e.userId, sealed: sealed[i], labelVersion: e.labelVersion })),
    );
    resealed += batch.length;
    after = batch[batch.length - 1].identifier;
    await yieldToEventLoop();
  }
}
