/**
 * The directory's append-only announcement log (dir.log, spec/verifiability.md §5): every
 * signed epoch key statement and announcement, in order. Verifying a log (an auditor, a
 * witness mirroring it) checks, entry by entry:
 *
 * - one identity key signs all of it (the pinned one, if given), strictly (announcement.ts);
 * - entry i has seq i, and prev = SHA-256(body of entry i-1) (32 zero bytes for entry 0):
 *   a dropped, duplicated or reordered entry breaks one of the two, and a forked copy
 *   differs from the first fork on;
 * - the first entry is an epoch key statement; statements' epochs strictly increase; each
 *   announcement belongs to the epoch of the latest statement (its key came first);
 * - announcements' (epoch, version) strictly increase (no rollback, no second commitment
 *   for a version).
 *
 * `appendEntry` is one step, so a mirror verifies each new entry as it arrives, in O(1).
 * Pure: envelopes in, verified entries out; failures are `bad_log` with the entry index,
 * or the signature's own code (`bad_signature`, `identity_mismatch`, `malformed`).
 */
import { ProtocolError } from '../errors.js';
import { entryHash, GENESIS_PREV, openSigned, type Announcement, type EpochKeyStatement, type Signed } from './announcement.js';
import { bytesEqual } from './canonical-fields.js';

export interface LogOptions {
  /** The pinned identity; without it, the first entry's signer is the log's identity. */
  readonly identityKey?: Uint8Array;
  /** Most entries verified in one call (default 10,000,000: a version a minute for 19 years). */
  readonly maxEntries?: number;
}

export const DEFAULT_MAX_LOG_ENTRIES = 10_000_000;

/** A verified prefix of the log: what the next entry is checked against. */
export interface LogCursor {
  readonly identityKey: Uint8Array | undefined;
  /** Entries verified so far (the next entry's seq). */
  readonly length: number;
  /** SHA-256 of the last entry's body (the next entry's prev). */
  readonly headHash: Uint8Array;
  readonly epochKey: Signed<EpochKeyStatement> | undefined;
  readonly latest: Signed<Announcement> | undefined;
}

export const emptyLog = (identityKey?: Uint8Array): LogCursor => ({ identityKey, length: 0, headHash: GENESIS_PREV, epochKey: undefined, latest: undefined });

const bad = (index: number, reason: string) => new ProtocolError('bad_log', `log entry ${index}: ${reason}`);

/** Verifies one more entry; returns the new cursor (the old one is unchanged). */
export function appendEntry(cursor: LogCursor, bytes: Uint8Array): LogCursor {
  const index = cursor.length;
  let signed: Signed;
  try {
    signed = openSigned(bytes, { identityKey: cursor.identityKey });
  } catch (err) {
    if (err instanceof ProtocolError) throw new ProtocolError(err.code, `log entry ${index}: ${err.message}`, { cause: err });
    throw err;
  }
  const s = signed.statement;
  if (s.seq !== index) throw bad(index, `has position ${s.seq} (an entry dropped, duplicated or moved)`);
  if (!bytesEqual(s.prev, cursor.headHash)) throw bad(index, 'does not chain to the entry before it');
  const next = { identityKey: cursor.identityKey ?? signed.identityKey, length: index + 1, headHash: entryHash(signed.body) };
  if (s.kind === 'epoch-key') {
    const prev = cursor.epochKey?.statement.epoch;
    if (prev !== undefined && s.epoch <= prev) throw bad(index, `key statement for epoch ${s.epoch} after epoch ${prev}`);
    return { ...next, epochKey: signed as Signed<EpochKeyStatement>, latest: cursor.latest };
  }
  const key = cursor.epochKey?.statement;
  if (!key) throw bad(index, 'an announcement before any epoch key statement');
  if (s.epoch !== key.epoch) throw bad(index, `an announcement for epoch ${s.epoch} while epoch ${key.epoch} is current`);
  const last = cursor.latest?.statement;
  if (last && (s.epoch - last.epoch || s.version - last.version) <= 0) {
    throw bad(index, `epoch ${s.epoch} version ${s.version} does not follow epoch ${last.epoch} version ${last.version}`);
  }
  return { ...next, epochKey: cursor.epochKey, latest: signed as Signed<Announcement> };
}

/** Verifies a whole log from its first entry. */
export function verifyLog(entries: readonly Uint8Array[], options: LogOptions = {}): LogCursor {
  const max = options.maxEntries ?? DEFAULT_MAX_LOG_ENTRIES;
  if (entries.length > max) throw new ProtocolError('too_large', `log of ${entries.length} entries, above maxEntries ${max}`);
  let cursor = emptyLog(options.identityKey);
  for (const bytes of entries) cursor = appendEntry(cursor, bytes);
  return cursor;
}
