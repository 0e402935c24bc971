/**
 * Set encodings of OPRF tags: what the server sends so a client can look its own
 * finalized OPRF outputs up. All four kinds share one interface and one container
 * format (spec/setenc.md).
 */

export const EncodingKinds = ['raw', 'gcs', 'bloom', 'fuse'] as const;
export type EncodingKind = (typeof EncodingKinds)[number];

/** Sorted tags truncated to `tagBytes` bytes: exact up to truncation collisions. */
export interface RawParams {
  readonly kind: 'raw';
  /** Bytes kept of each tag, 4..64. */
  readonly tagBytes: number;
}

/** Golomb-Rice compressed set of hashed values in [0, count * 2^riceBits). */
export interface GcsParams {
  readonly kind: 'gcs';
  /** log2 of the Golomb parameter M; the per-lookup false-positive rate is about 2^-riceBits. 1..52. */
  readonly riceBits: number;
  /** Entries per index block (a power of two, 16..65536): a lookup decodes at most one block. */
  readonly blockSize: number;
}

/** Bloom filter with ceil(count * bitsPerEntry) bits (rounded up to whole bytes) and hashCount probes. */
export interface BloomParams {
  readonly kind: 'bloom';
  /** Filter bits per distinct entry, a finite number in (0, 4096]. */
  readonly bitsPerEntry: number;
  /** Number of probed bits, 1..64. */
  readonly hashCount: number;
}

/** 4-wise binary fuse filter (Graf & Lemire 2022) with bit-packed fingerprints. */
export interface FuseParams {
  readonly kind: 'fuse';
  /** Fingerprint width, 1..32; the per-lookup false-positive rate is 2^-fingerprintBits. */
  readonly fingerprintBits: number;
  /**
   * First construction seed (a u32, default 0). Construction is a deterministic function of
   * the tags and this seed; on a failed peel it retries with the next seed. The params of a
   * built or parsed encoding carry the seed that succeeded, so rebuilding with them
   * reproduces the same bytes.
   */
  readonly seed?: number;
}

export type EncodingParams = RawParams | GcsParams | BloomParams | FuseParams;

export interface SetEncoding {
  readonly kind: EncodingKind;
  readonly params: EncodingParams;
  /** Number of distinct tags encoded (raw: distinct truncated tags; others: distinct 16-byte prefixes). */
  readonly count: number;
  /** Membership of a full OPRF output (>= 16 bytes; raw needs >= tagBytes). False positives at the configured rate. */
  contains(tag: Uint8Array): boolean;
  /** The container bytes (a fresh copy). */
  serialize(): Uint8Array;
  /** Size of serialize() output. */
  readonly byteLength: number;
}

/** Tags to encode: an array of byte strings, or one packed byte string of equal-length tags. */
export type TagInput = readonly Uint8Array[] | { readonly packed: Uint8Array; readonly tagLength: number };

export interface ParseLimits {
  /** Largest accepted encoding in bytes (default 512 MiB). */
  readonly maxBytes?: number;
  /** Largest accepted count (default 50,000,000). */
  readonly maxCount?: number;
}
