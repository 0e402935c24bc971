/**
 * The affine coordinates of the last few packed batches that `validatePacked` decoded on
 * the SIMD module, so that an evaluation of the same bytes soon after (a discovery server
 * checks a chunk of blinded elements when it arrives, charges it, then evaluates it:
 * RFC 9497 BlindEvaluate and the DLEQ composite) starts from them instead of decoding
 * every element again: decoding is a square root per element, ~8% of the evaluation.
 *
 * An entry is found by the exact bytes (a private copy is kept and compared in full, so a
 * caller that reuses or changes its buffer gets no stale coordinates), used once, and
 * wiped when taken or evicted. Bounded: at most `maxEntries` batches (default 8) of at
 * most `maxElements` elements each (default 4,096, a discovery chunk's limit; larger
 * batches are checked but not kept), 32 bytes plus 64 bytes of coordinates per element, so
 * ~3 MiB at most. Blinded elements are what the server receives anyway; this keeps them in
 * memory only until their evaluation or the next `maxEntries` checks, never anywhere else.
 */

interface Entry {
  readonly bytes: Uint8Array;
  readonly xy: Uint8Array;
}

export const DEFAULT_DECODED_BATCHES = 8;
/** Elements of the largest batch kept (a discovery chunk holds at most 4,096). */
export const DEFAULT_DECODED_BATCH_ELEMENTS = 4096;

export class DecodedBatches {
  private readonly entries: Entry[] = [];

  constructor(
    private readonly maxEntries: number = DEFAULT_DECODED_BATCHES,
    readonly maxElements: number = DEFAULT_DECODED_BATCH_ELEMENTS,
  ) {}

  /** Number of batches held (for tests of the bound). */
  get size(): number {
    return this.entries.length;
  }

  /** Keeps the coordinates of `packed` (xy: 64 bytes per element, in order); the oldest entry goes past the bound. */
  remember(packed: Uint8Array, xy: Uint8Array): void {
    if (this.maxEntries < 1 || xy.length > 64 * this.maxElements) return;
    this.entries.push({ bytes: packed.slice(), xy });
    while (this.entries.length > this.maxEntries) wipe(this.entries.shift()!);
  }

  /** The coordinates of exactly these bytes, removed from the cache; undefined when not held. */
  take(packed: Uint8Array): Uint8Array | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i];
      if (!sameBytes(entry.bytes, packed)) continue;
      this.entries.splice(i, 1);
      entry.bytes.fill(0);
      return entry.xy;
    }
    return undefined;
  }
}

function wipe(entry: Entry): void {
  entry.bytes.fill(0);
  entry.xy.fill(0);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
