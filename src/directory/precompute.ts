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
import { randomNonces, sealLabels, sealWithLookupKeys, type LabelToSeal, type SealedLabel } from './seal.js';
import type { DirectoryStore, MissingTag, Progress, TagRecord } from './types.js';

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
 * the event loop (src/parallel poolEvaluator). It must return suite.evaluate's bytes. A pass
 * calls it for the next batch before the previous call's tags are stored, so two calls may
 * be pending at once. With `evaluateAndSeal` (the pool's), the pass calls that instead: the
 * tags and, for each, its label sealed with the nonces given (24 bytes each), as
 * seal.ts sealLabelsWith would seal them, so the labels are sealed off this thread too.
 */
export interface TagEvaluator {
  (secretKey: Uint8Array, inputs: readonly Uint8Array[]): Promise<Uint8Array[]>;
  readonly evaluateAndSeal?: (
    secretKey: Uint8Array,
    inputs: readonly Uint8Array[],
    labels: readonly LabelToSeal[],
    nonces: Uint8Array,
  ) => Promise<{ readonly tags: Uint8Array[]; readonly seals: SealedLabel[] }>;
}

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
  const { store, epoch, onProgress } = job;
  const batchSize = Math.max(1, Math.trunc(job.batchSize ?? DEFAULT_PRECOMPUTE_BATCH));
  // Read first: if a writer moves the version during the pass, the pass is not complete.
  const version = await store.version();
  const pruned = await store.pruneTags(epoch);
  const missing = await store.countMissingTags(epoch);
  onProgress?.(0, missing);
  await store.beginTagFill?.(epoch, missing);
  let computed: number;
  try {
    computed = await fillMissing(job, batchSize, missing);
  } finally {
    await store.endTagFill?.(epoch);
  }
  const resealed = await resealLabels(store, epoch, batchSize);
  const complete = await store.completeTags(epoch, version, job.startDeltaLog ?? false);
  return { computed, pruned, resealed, version, complete };
}

/**
 * Evaluates, seals and stores every missing tag; returns how many. Two batches at most are
 * in flight: while batch n is sealed and written here, batch n + 1 is being evaluated (on
 * the pool's workers when there is one). Batches are still read, evaluated and written in
 * identifier order, each write one transaction of complete records, so an interrupted pass
 * leaves whole tag records only and the next pass resumes after them.
 */
async function fillMissing(job: PrecomputeJob, batchSize: number, missing: number): Promise<number> {
  const { store, epoch, onProgress } = job;
  let total = missing;
  let computed = 0;
  let current = await startBatch(job, undefined, batchSize);
  while (current !== undefined) {
    const next = await startBatch(job, current.after, batchSize);
    const { batch } = current;
    await store.putTags(epoch, tagRecordsOf(batch, await current.sealed));
    computed += batch.length;
    total = Math.max(total, computed); // another process may have added users meanwhile
    onProgress?.(computed, total);
    await yieldToEventLoop();
    current = next;
  }
  return computed;
}

/** A batch's tags with their seals and lookup keys, in batch order. */
interface SealedBatch {
  readonly tags: Uint8Array[];
  readonly seals: SealedLabel[];
}

interface StartedBatch {
  readonly batch: MissingTag[];
  /** The keyset cursor of the following batch. */
  readonly after: string;
  /** Already has a handler, so a failure is reported only where it is awaited. */
  readonly sealed: Promise<SealedBatch>;
}

/** Reads the next batch of missing tags after `after` and starts its evaluation; undefined when there is none. */
async function startBatch(job: PrecomputeJob, after: string | undefined, limit: number): Promise<StartedBatch | undefined> {
  const batch = await job.store.missingTags(job.epoch, after, limit);
  if (batch.length === 0) return undefined;
  const sealed = evaluateAndSeal(job, batch);
  sealed.catch(() => undefined); // awaited later; an error surfaces there (or the pass failed before)
  return { batch, after: batch[batch.length - 1].identifier, sealed };
}

/** The store's records of a computed batch: each pair with its tag, lookup key and seal. */
export function tagRecordsOf(batch: readonly MissingTag[], { tags, seals }: SealedBatch): TagRecord[] {
  return batch.map((e, i) => ({
    identifier: e.identifier,
    userId: e.userId,
    tag: tags[i],
    lookupKey: seals[i].lookupKey,
    sealed: seals[i].sealed,
    labelVersion: e.labelVersion,
  }));
}

/** Tags and seals of a batch (also the streaming import's, import-stream.ts, before its users are stored). */
export async function evaluateAndSeal(job: Pick<PrecomputeJob, 'suite' | 'secretKey' | 'evaluator'>, batch: readonly MissingTag[]): Promise<SealedBatch> {
  const { evaluator, secretKey } = job;
  const inputs = batch.map((e) => identifierBytes(e.identifier));
  const n = batch.length;
  if (evaluator?.evaluateAndSeal !== undefined) {
    const { tags, seals } = await evaluator.evaluateAndSeal(secretKey, inputs, batch, randomNonces(n));
    if (tags.length !== n || seals.length !== n) throw evaluatorFailed(`${tags.length} tags and ${seals.length} seals`, n);
    return { tags, seals };
  }
  const tags = evaluator === undefined ? job.suite.evaluate(secretKey, inputs) : await evaluator(secretKey, inputs);
  if (tags.length !== n) throw evaluatorFailed(`${tags.length} tags`, n);
  return { tags, seals: sealWithLookupKeys(batch.map((e, i) => ({ tag: tags[i], userId: e.userId, label: e.label }))) };
}

const evaluatorFailed = (got: string, n: number): ContactPsiError => new ContactPsiError('evaluator_failed', `evaluator returned ${got} for ${n} identifiers`);

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
