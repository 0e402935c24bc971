/**
 * Tags for the directory: F_k(identifierBytes(identifier)) for every discoverable
 * identifier of the epoch, computed once and kept in the store, so a restart or a new
 * snapshot costs no group operations. Incremental: only pairs without a tag are evaluated,
 * and tags of removed or opted-out pairs are dropped first.
 */
import { identifierBytes } from '../contacts/identifier.js';
import type { OprfSuite } from '../oprf/suite.js';
import { lookupKeyOf } from './lookup.js';
import type { DirectoryStore, Progress, TagRecord } from './types.js';

export const DEFAULT_PRECOMPUTE_BATCH = 4096;

export interface PrecomputeResult {
  /** Tags evaluated and stored by this pass. */
  readonly computed: number;
  /** Tags deleted: other epochs, removed users, opted-out users, moved identifiers. */
  readonly pruned: number;
}

export interface PrecomputeJob {
  readonly store: DirectoryStore;
  readonly suite: OprfSuite;
  readonly secretKey: Uint8Array;
  readonly epoch: number;
  readonly batchSize?: number;
  readonly onProgress?: Progress;
}

/** Lets the event loop run between batches, so a server keeps answering during a long pass. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function precomputeTags(job: PrecomputeJob): Promise<PrecomputeResult> {
  const { store, suite, secretKey, epoch, onProgress } = job;
  const batchSize = Math.max(1, Math.trunc(job.batchSize ?? DEFAULT_PRECOMPUTE_BATCH));
  const pruned = await store.pruneTags(epoch);
  let total = await store.countMissingTags(epoch);
  let computed = 0;
  let after: string | undefined;
  onProgress?.(0, total);
  for (;;) {
    const batch = await store.missingTags(epoch, after, batchSize);
    if (batch.length === 0) break;
    const tags = suite.evaluate(secretKey, batch.map((e) => identifierBytes(e.identifier)));
    const records: TagRecord[] = batch.map((e, i) => ({ ...e, tag: tags[i], lookupKey: lookupKeyOf(tags[i]) }));
    await store.putTags(epoch, records);
    computed += batch.length;
    after = batch[batch.length - 1].identifier;
    total = Math.max(total, computed); // another process may have added users meanwhile
    onProgress?.(computed, total);
    await yieldToEventLoop();
  }
  return { computed, pruned };
}
