/**
 * The client's pin rules (spec/verifiability.md §3) as a pure state machine over signed log
 * entries (announcement.ts). The state is what a client caches between syncs:
 *
 * - the directory identity key, pinned from configuration or on first use (TOFU);
 * - the newest epoch key statement it accepted (the epoch's OPRF public key);
 * - the newest announcement it accepted ((epoch, version) -> commitment, count, snapshot).
 *
 * Rules, each with the code it fails with:
 * - every entry is signed by the pinned key (`identity_mismatch`), validly (`bad_signature`);
 * - a key statement for a higher epoch is a rotation: accepted on the identity's signature
 *   alone, without trusting the server anew; for the same epoch it must be the same bytes,
 *   and a lower epoch is refused (`key_conflict`: a server reviving an old or a private key);
 * - an announcement needs its epoch's statement first (`unknown_epoch`), may not go back
 *   to a lower epoch or a lower version (`rollback`), and for the (epoch, version) already
 *   held must be the same bytes (`split_view`, with both signed envelopes as evidence);
 * - log positions must agree: an entry at the position right after the newest one held must
 *   chain to it (`prev`), one at a held position must be that entry, and a newer (epoch,
 *   version) may not sit at an older position (`split_view`); an announcement may not
 *   precede its epoch's statement in the log (`bad_log`).
 *
 * Transitions never mutate: each returns a new state, and on error the old one stands.
 */
import { ProtocolError } from '../errors.js';
import {
  entryHash,
  openEpochKeyStatement,
  openAnnouncement,
  openSigned,
  type Announcement,
  type EpochKeyStatement,
  type Signed,
} from './announcement.js';
import { asciiBytes, bytesEqual, decodeFields, encodeFields, expectDomain, readString } from './canonical-fields.js';
import { VerifiabilityError } from './verify-error.js';

export type PinSource = 'config' | 'first-use';

export interface PinState {
  /** Undefined until the first verified entry when nothing was configured (trust on first use). */
  readonly identityKey?: Uint8Array;
  readonly pinnedBy?: PinSource;
  readonly epochKey?: Signed<EpochKeyStatement>;
  readonly latest?: Signed<Announcement>;
}

export function newPins(options: { identityKey?: Uint8Array } = {}): PinState {
  if (options.identityKey === undefined) return {};
  if (options.identityKey.length !== 32) throw new ProtocolError('bad_field', 'a directory identity key is 32 bytes (Ed25519)');
  return { identityKey: options.identityKey.slice(), pinnedBy: 'config' };
}

/** Opens with the pin (or pins the signer on first use). */
function open<T extends Signed>(state: PinState, bytes: Uint8Array, opener: (b: Uint8Array, o: { identityKey?: Uint8Array }) => T): { signed: T; pinned: PinState } {
  const signed = opener(bytes, { identityKey: state.identityKey });
  const pinned: PinState = state.identityKey ? state : { ...state, identityKey: signed.identityKey, pinnedBy: 'first-use' };
  return { signed, pinned };
}

/** The newest log entry the state holds (highest seq). */
function head(state: PinState): Signed | undefined {
  const { epochKey, latest } = state;
  if (!epochKey) return latest;
  if (!latest) return epochKey;
  return latest.statement.seq > epochKey.statement.seq ? latest : epochKey;
}

/** An entry newer than everything held must extend the held history where it touches it. */
function checkExtends(state: PinState, entry: Signed): void {
  const h = head(state);
  if (!h) return;
  const { seq, prev } = entry.statement;
  if (seq <= h.statement.seq) {
    throw new VerifiabilityError('split_view', `a newer entry at log position ${seq}, not after the held position ${h.statement.seq}`, { evidence: [h.bytes, entry.bytes] });
  }
  if (seq === h.statement.seq + 1 && !bytesEqual(prev, entryHash(h.body))) {
    throw new VerifiabilityError('split_view', `log entry ${seq} does not chain to the held entry ${h.statement.seq}: a forked history`, { evidence: [h.bytes, entry.bytes] });
  }
}

/** Accepts a signed epoch key statement (a first key, the same key again, or a rotation). */
export function acceptEpochKey(state: PinState, bytes: Uint8Array): PinState {
  const { signed, pinned } = open(state, bytes, openEpochKeyStatement);
  const cur = state.epochKey;
  if (cur) {
    const { epoch } = signed.statement;
    if (epoch < cur.statement.epoch) throw new VerifiabilityError('key_conflict', `a key for epoch ${epoch}, lower than the epoch ${cur.statement.epoch} already seen`, { evidence: [cur.bytes, signed.bytes] });
    if (epoch === cur.statement.epoch) {
      if (bytesEqual(signed.body, cur.body)) return pinned;
      throw new VerifiabilityError('key_conflict', `another key statement for epoch ${epoch}`, { evidence: [cur.bytes, signed.bytes] });
    }
  }
  checkExtends(state, signed);
  return { ...pinned, epochKey: signed };
}

/** Accepts a signed announcement for the current epoch. */
export function acceptAnnouncement(state: PinState, bytes: Uint8Array): PinState {
  const { signed, pinned } = open(state, bytes, openAnnouncement);
  const a = signed.statement;
  const key = state.epochKey;
  if (!key || a.epoch > key.statement.epoch) throw new ProtocolError('unknown_epoch', `an announcement for epoch ${a.epoch} without its signed key statement`);
  if (a.epoch < key.statement.epoch) throw new ProtocolError('rollback', `an announcement for epoch ${a.epoch}, older than the current epoch ${key.statement.epoch}`);
  if (a.seq <= key.statement.seq) throw new ProtocolError('bad_log', `announcement at log position ${a.seq} precedes its epoch's key statement (${key.statement.seq})`);
  const latest = state.latest;
  if (latest) {
    const l = latest.statement;
    const order = a.epoch - l.epoch || a.version - l.version;
    if (order < 0) throw new ProtocolError('rollback', `version ${a.version} of epoch ${a.epoch} is older than version ${l.version} of epoch ${l.epoch} already seen`);
    if (order === 0) {
      if (bytesEqual(signed.body, latest.body)) return pinned;
      throw new VerifiabilityError('split_view', `two different signed announcements for epoch ${a.epoch} version ${a.version}`, { evidence: [latest.bytes, signed.bytes] });
    }
  }
  checkExtends(state, signed);
  return { ...pinned, latest: signed };
}

/** Dispatches on the entry's kind (the log and witnesses hand out both). */
export function acceptEntry(state: PinState, bytes: Uint8Array): PinState {
  const kind = openSigned(bytes, { identityKey: state.identityKey }).statement.kind;
  return kind === 'epoch-key' ? acceptEpochKey(state, bytes) : acceptAnnouncement(state, bytes);
}

const PINS_DOMAIN = asciiBytes('contact-psi/v1/pins');
const MAX_PINS_FIELD = 8192;
const empty = new Uint8Array(0);

/** The state as bytes for the client's cache (0600 beside the snapshot). */
export function encodePins(state: PinState): Uint8Array {
  return encodeFields([PINS_DOMAIN, state.identityKey ?? empty, asciiBytes(state.pinnedBy ?? ''), state.epochKey?.bytes ?? empty, state.latest?.bytes ?? empty]);
}

/**
 * Reads a cached state back. The envelopes are verified again under the stored identity and
 * checked to be a state the rules could have reached (the announcement is not newer than
 * the key statement's epoch, and follows it in the log within one epoch), so a damaged or
 * hand-edited cache is refused (`malformed`, or the signature's code) rather than trusted.
 */
export function decodePins(bytes: Uint8Array): PinState {
  const [domain, identityKey, source, epochKey, latest] = decodeFields(bytes, 5, 'pin state', MAX_PINS_FIELD);
  expectDomain(domain, PINS_DOMAIN, 'pin state');
  const pinnedBy = readString(source, 'pin source');
  if (identityKey.length === 0) {
    if (pinnedBy !== '' || epochKey.length > 0 || latest.length > 0) throw new ProtocolError('malformed', 'pin state: entries without a pinned identity');
    return {};
  }
  if (pinnedBy !== 'config' && pinnedBy !== 'first-use') throw new ProtocolError('malformed', 'pin state: unknown pin source');
  const base = newPins({ identityKey });
  const state: { -readonly [K in keyof PinState]: PinState[K] } = { ...base, pinnedBy };
  if (epochKey.length > 0) state.epochKey = openEpochKeyStatement(epochKey, { identityKey });
  if (latest.length > 0) {
    const k = state.epochKey?.statement;
    const a = openAnnouncement(latest, { identityKey });
    const consistent = k !== undefined && (a.statement.epoch < k.epoch ? a.statement.seq < k.seq : a.statement.epoch === k.epoch && a.statement.seq > k.seq);
    if (!consistent) throw new ProtocolError('malformed', 'pin state: the announcement does not fit the key statement');
    state.latest = a;
  }
  return state;
}
