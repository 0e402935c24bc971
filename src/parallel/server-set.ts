/**
 * `prepareServerSet` with the group work on a pool: the same distinct items, the same key
 * (drawn here from the caller's rng, as the single-thread version draws it) and the same
 * packed k*H(y_i), byte for byte; plus the outputs F(k, y_i) (PreparedServerSet.outputs).
 *
 * The items are deduplicated in pieces and each piece goes to the pool as soon as it is
 * known: the workers start after the first FIRST_PIECE items instead of waiting for the
 * whole set to be deduplicated and packed on this thread (at 100,000 items that serial
 * start was 100-170 ms of this thread's CPU, plus its run-queue wait on a loaded machine,
 * with both workers asleep).
 */
import type { Rng } from '../group/types.js';
import type { KeyPair, OprfSuite } from '../oprf/suite.js';
import { DistinctItems, type PreparedServerSet } from '../protocol/server-set.js';
import type { WorkerPool } from './pool.js';
import { concatBytes } from './slices.js';
import { checkInput } from './wire.js';
import { withBatchIndex } from './wire-error.js';

/** Items deduplicated before the first piece goes out: two default slices, one per worker of a 2-core machine. */
export const FIRST_PIECE = 2048;
/** Items per later piece: a few slices each, so this thread hands work over often enough. */
export const PIECE = 8192;
/** The smallest piece at the end: two slices of 256 items, ~15 ms of work each. */
export const LAST_PIECE = 512;

/**
 * Items to deduplicate next: `first`, then `size`, and in the last four pieces' worth a
 * quarter of what is left (down to LAST_PIECE): the last tasks are small, so the worker
 * that finishes first does not wait long for the other (the pool splits a piece into at
 * least one slice per worker).
 */
export function pieceSize(taken: number, total: number, pieces: { readonly first: number; readonly size: number }): number {
  if (taken === 0) return Math.max(1, pieces.first);
  const left = total - taken;
  return Math.max(1, Math.min(pieces.size, Math.max(Math.min(LAST_PIECE, pieces.size), Math.ceil(left / 4))));
}

type Part = { elements: Uint8Array; outputs: Uint8Array[] };
/** A piece's outcome, never a rejected promise: a piece may fail while later ones are still being deduplicated. */
type Settled = { ok: true; part: Part } | { ok: false; error: unknown };

export async function prepareServerSetParallel(
  pool: WorkerPool,
  suite: OprfSuite,
  items: readonly Uint8Array[],
  rng: Rng,
  keys?: KeyPair,
  pieces: { readonly first: number; readonly size: number } = { first: FIRST_PIECE, size: PIECE },
): Promise<PreparedServerSet> {
  // The set is the items at the call: the pieces below are deduplicated over later turns of
  // the event loop, and a caller may reuse its array meanwhile (red team wave 5). A copy of
  // the array, not of the bytes, as prepareServerSet (which also keeps the item views).
  items = items.slice();
  const dedupe = new DistinctItems(items);
  let keyPair: KeyPair | undefined;
  let checked = 0; // distinct items checked and sent
  const parts: Promise<Settled>[] = [];
  try {
    do {
      const fresh = dedupe.take(dedupe.taken + pieceSize(dedupe.taken, items.length, pieces));
      // The key after the first piece's dedupe, as prepareServerSet draws it after distinctItems.
      keyPair ??= keys ?? suite.generateKeyPair(rng);
      // Checked here with their index in the whole distinct set (the pool would count from the piece).
      for (let i = 0; i < fresh.length; i++) checkInput(fresh[i], checked + i);
      if (fresh.length === 0) continue;
      const start = checked;
      checked += fresh.length;
      // Fused on the workers (as prepareServerSet fuses on one thread): H(y) is never encoded
      // and sent back to be decoded again, and the outputs F(k, y) a session's intersection
      // encoding is built from are hashed there too, not one by one on the session's thread.
      parts.push(
        pool.hashMultiplyFinalize(suite.id, suite.mode, keyPair.secretKey, fresh).then(
          (part): Settled => ({ ok: true, part }),
          (error: unknown): Settled => ({ ok: false, error: withBatchIndex(error, start) }),
        ),
      );
      // The pool posts a piece's tasks a few promise steps after the call: let it, before the next dedupe.
      if (dedupe.taken < items.length) await new Promise<void>((resolve) => setImmediate(resolve));
    } while (dedupe.taken < items.length);
  } catch (err) {
    await Promise.all(parts); // nothing left running on the pool for a set that failed
    throw err;
  }
  keyPair ??= keys ?? suite.generateKeyPair(rng); // no items: the key is still drawn
  const distinct = dedupe.distinct as Uint8Array[];
  if (parts.length === 0) {
    // No items: the pool's own inline answer for an empty batch, as before.
    const { elements, outputs } = await pool.hashMultiplyFinalize(suite.id, suite.mode, keyPair.secretKey, distinct);
    return { suite, keys: keyPair, items: distinct, elements, outputs };
  }
  const done: Part[] = [];
  // As the pool reports a batch: the error of the first failing piece, after all have settled.
  for (const settled of await Promise.all(parts)) {
    if (!settled.ok) throw settled.error;
    done.push(settled.part);
  }
  // Joined by index (Array.prototype.flatMap was ~1 µs per element here).
  const outputs = done.length === 1 ? done[0].outputs : new Array<Uint8Array>(checked);
  if (done.length > 1) {
    let at = 0;
    for (const p of done) for (let i = 0; i < p.outputs.length; i++) outputs[at++] = p.outputs[i];
  }
  return { suite, keys: keyPair, items: distinct, elements: concatBytes(done.map((p) => p.elements)), outputs };
}
