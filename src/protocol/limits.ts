/**
 * Limits a session enforces on what the peer sends. Each is checked as soon as the
 * number is known (in the schema, before per-item state is allocated). Defaults are
 * generous for real address books and directories; operators lower them.
 */
export interface SessionLimits {
  /** Largest encoded message accepted, in bytes. */
  readonly maxMessageBytes: number;
  /** Most items a client may query in one session (after padding). */
  readonly maxClientItems: number;
  /** Most items in one query chunk; RFC 9497 §2.2.1 caps one DLEQ proof at 65,535. */
  readonly maxChunkItems: number;
  /** Largest serialized set encoding a client accepts, in bytes. */
  readonly maxEncodingBytes: number;
  /** Most server items a client accepts in the set encoding. */
  readonly maxServerItems: number;
  /** Bounds on the whole-query false-positive rate a client may ask for. */
  readonly minFalsePositiveRate: number;
  readonly maxFalsePositiveRate: number;
}

export const DEFAULT_LIMITS: SessionLimits = Object.freeze({
  maxMessageBytes: 256 * 1024 * 1024,
  maxClientItems: 1 << 20,
  maxChunkItems: 0xffff,
  maxEncodingBytes: 256 * 1024 * 1024,
  maxServerItems: 50_000_000,
  minFalsePositiveRate: 2 ** -64,
  maxFalsePositiveRate: 0.01,
});

export const resolveLimits = (partial: Partial<SessionLimits> = {}): SessionLimits =>
  Object.freeze({ ...DEFAULT_LIMITS, ...partial });
