/**
 * What the directory's long-term identity key (Ed25519, RFC 8032) signs (spec/verifiability.md
 * §2): one EpochKeyStatement per epoch (that epoch's OPRF public key) and one Announcement
 * per (epoch, version) (the tag-set commitment, the count and the snapshot digest). Both are
 * entries of one append-only log: each carries its position `seq` and `prev`, the SHA-256 of
 * the previous entry's body, so the newest entry a client or witness holds commits to the
 * whole history before it (a dropped, reordered or forked entry changes every later hash).
 *
 * Bodies use the canonical field encoding (canonical-fields.ts) and start with a domain
 * string of their own, so a signature over one kind can never be read as the other, and
 * the key signs nothing else. Verification is strict RFC 8032 (no ZIP-215 leniency): a
 * non-canonical R, A or S is refused, so one body has no second valid encoding to smuggle.
 * Pure: the secret key and the statement come in, bytes go out.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { SuiteIds, type SuiteId } from '../../oprf/suite.js';
import { EncodingKinds, type EncodingKind } from '../../setenc/types.js';
import { ProtocolError } from '../errors.js';
import { asciiBytes, bytesEqual, decodeFields, encodeFields, expectDomain, readFixed, readString, readU64, u64 } from './canonical-fields.js';
import { COMMITMENT_BYTES } from './commitment.js';

export const IDENTITY_KEY_BYTES = 32;
export const IDENTITY_SECRET_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const ENTRY_HASH_BYTES = 32;
export const SNAPSHOT_DIGEST_BYTES = 32;
/** `prev` of the first log entry. */
export const GENESIS_PREV = new Uint8Array(ENTRY_HASH_BYTES);

export const EPOCH_KEY_DOMAIN = asciiBytes('contact-psi/v1/epoch-key-statement');
export const ANNOUNCEMENT_DOMAIN = asciiBytes('contact-psi/v1/announcement');

const MAX_EPOCH = 0xffffffff;
const ELEMENT_BYTES: Record<SuiteId, number> = { 'ristretto255-SHA512': 32, 'P256-SHA256': 33 };

/** Where an entry sits in the log. */
export interface LogPosition {
  /** 0 for the first entry, +1 for each next one. */
  readonly seq: number;
  /** SHA-256 of the previous entry's body; 32 zero bytes for seq 0. */
  readonly prev: Uint8Array;
}

export interface EpochKeyStatement extends LogPosition {
  readonly kind: 'epoch-key';
  readonly suite: SuiteId;
  readonly epoch: number;
  /** The epoch's OPRF public key, in the suite's element encoding. */
  readonly publicKey: Uint8Array;
  /** Milliseconds since 1970 from which the key serves (informative; absent = unspecified). */
  readonly validFrom?: number;
}

export interface Announcement extends LogPosition {
  readonly kind: 'announcement';
  readonly epoch: number;
  readonly version: number;
  /** Entries in the tag multiset (commitment.ts). */
  readonly count: number;
  /** The ECMH commitment to the tag prefixes (32 bytes). */
  readonly commitment: Uint8Array;
  /** How the snapshot of this (epoch, version) is encoded, and its SHA-256: binds a filter download too. */
  readonly encoding: EncodingKind;
  readonly snapshotDigest: Uint8Array;
}

export type LogStatement = EpochKeyStatement | Announcement;

/** A statement with its signature, as verified. `bytes` is the envelope that travels and is logged. */
export interface Signed<T extends LogStatement = LogStatement> {
  readonly statement: T;
  /** The canonical body that was signed. */
  readonly body: Uint8Array;
  readonly identityKey: Uint8Array;
  readonly signature: Uint8Array;
  readonly bytes: Uint8Array;
}

function position(p: LogPosition): Uint8Array[] {
  if (p.prev.length !== ENTRY_HASH_BYTES) throw new ProtocolError('bad_field', `prev of ${p.prev.length} bytes`);
  return [u64(p.seq), p.prev];
}

function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) throw new ProtocolError('bad_field', `epoch ${epoch} is not a u32`);
}

export function encodeEpochKeyStatement(s: EpochKeyStatement): Uint8Array {
  checkEpoch(s.epoch);
  if (!(SuiteIds as readonly string[]).includes(s.suite)) throw new ProtocolError('unsupported', `suite ${s.suite}`);
  if (s.publicKey.length !== ELEMENT_BYTES[s.suite]) throw new ProtocolError('bad_field', `public key of ${s.publicKey.length} bytes for ${s.suite}`);
  const validFrom = s.validFrom === undefined ? new Uint8Array(0) : u64(s.validFrom);
  return encodeFields([EPOCH_KEY_DOMAIN, ...position(s), asciiBytes(s.suite), u64(s.epoch), s.publicKey, validFrom]);
}

export function encodeAnnouncement(a: Announcement): Uint8Array {
  checkEpoch(a.epoch);
  if (a.commitment.length !== COMMITMENT_BYTES) throw new ProtocolError('bad_field', `commitment of ${a.commitment.length} bytes`);
  if (a.snapshotDigest.length !== SNAPSHOT_DIGEST_BYTES) throw new ProtocolError('bad_field', `snapshot digest of ${a.snapshotDigest.length} bytes`);
  if (!(EncodingKinds as readonly string[]).includes(a.encoding)) throw new ProtocolError('unsupported', `encoding ${a.encoding}`);
  return encodeFields([ANNOUNCEMENT_DOMAIN, ...position(a), u64(a.epoch), u64(a.version), u64(a.count), a.commitment, asciiBytes(a.encoding), a.snapshotDigest]);
}

export function encodeStatement(s: LogStatement): Uint8Array {
  return s.kind === 'epoch-key' ? encodeEpochKeyStatement(s) : encodeAnnouncement(s);
}

/** Parses a body of either kind; refuses every byte string that is not an encoding of one. */
export function decodeStatement(body: Uint8Array): LogStatement {
  // The domain (first field) says which kind, hence how many fields to expect.
  if (startsWithField(body, EPOCH_KEY_DOMAIN)) {
    const [domain, seq, prev, suite, epoch, publicKey, validFrom] = decodeFields(body, 7, 'epoch key statement');
    expectDomain(domain, EPOCH_KEY_DOMAIN, 'epoch key statement');
    const suiteId = readString(suite, 'suite');
    if (!(SuiteIds as readonly string[]).includes(suiteId)) throw new ProtocolError('unsupported', `suite ${suiteId}`);
    const out: EpochKeyStatement = {
      kind: 'epoch-key',
      seq: readU64(seq, 'seq'),
      prev: readFixed(prev, ENTRY_HASH_BYTES, 'prev'),
      suite: suiteId as SuiteId,
      epoch: readU64(epoch, 'epoch', MAX_EPOCH),
      publicKey: readFixed(publicKey, ELEMENT_BYTES[suiteId as SuiteId], 'public key'),
      ...(validFrom.length === 0 ? {} : { validFrom: readU64(validFrom, 'validFrom') }),
    };
    return out;
  }
  if (startsWithField(body, ANNOUNCEMENT_DOMAIN)) {
    const [domain, seq, prev, epoch, version, count, commitment, encoding, digest] = decodeFields(body, 9, 'announcement');
    expectDomain(domain, ANNOUNCEMENT_DOMAIN, 'announcement');
    const kind = readString(encoding, 'encoding');
    if (!(EncodingKinds as readonly string[]).includes(kind)) throw new ProtocolError('unsupported', `encoding ${kind}`);
    return {
      kind: 'announcement',
      seq: readU64(seq, 'seq'),
      prev: readFixed(prev, ENTRY_HASH_BYTES, 'prev'),
      epoch: readU64(epoch, 'epoch', MAX_EPOCH),
      version: readU64(version, 'version'),
      count: readU64(count, 'count'),
      commitment: readFixed(commitment, COMMITMENT_BYTES, 'commitment'),
      encoding: kind as EncodingKind,
      snapshotDigest: readFixed(digest, SNAPSHOT_DIGEST_BYTES, 'snapshot digest'),
    };
  }
  throw new ProtocolError('malformed', 'not a signed directory statement (unknown domain)');
}

function startsWithField(body: Uint8Array, domain: Uint8Array): boolean {
  if (body.length < 4 + domain.length) return false;
  const len = new DataView(body.buffer, body.byteOffset, 4).getUint32(0);
  return len === domain.length && bytesEqual(body.subarray(4, 4 + domain.length), domain);
}

/** The hash that the next entry's `prev` holds. */
export const entryHash = (body: Uint8Array): Uint8Array => sha256(body);

export const identityPublicKey = (secretKey: Uint8Array): Uint8Array => ed25519.getPublicKey(secretKey);

/** Signs a statement with the identity secret key (32-byte RFC 8032 seed). */
export function signStatement<T extends LogStatement>(statement: T, secretKey: Uint8Array): Signed<T> {
  if (secretKey.length !== IDENTITY_SECRET_BYTES) throw new ProtocolError('bad_field', 'identity secret key must be 32 bytes');
  const body = encodeStatement(statement);
  const identityKey = ed25519.getPublicKey(secretKey);
  const signature = ed25519.sign(body, secretKey);
  return { statement, body, identityKey, signature, bytes: encodeFields([body, identityKey, signature]) };
}

export interface OpenOptions {
  /** The pinned identity: a statement signed by any other key is `identity_mismatch`. */
  readonly identityKey?: Uint8Array;
}

/**
 * Parses and verifies a signed envelope. Order of checks: shape (`malformed`), signer
 * (`identity_mismatch` against the pin, before spending a verification), signature
 * (`bad_signature`), then the body's own validity.
 */
export function openSigned(bytes: Uint8Array, options: OpenOptions = {}): Signed {
  const [body, identityKey, signature] = decodeFields(bytes, 3, 'signed statement');
  if (identityKey.length !== IDENTITY_KEY_BYTES) throw new ProtocolError('malformed', `identity key of ${identityKey.length} bytes`);
  if (signature.length !== SIGNATURE_BYTES) throw new ProtocolError('malformed', `signature of ${signature.length} bytes`);
  if (options.identityKey && !bytesEqual(options.identityKey, identityKey)) {
    throw new ProtocolError('identity_mismatch', 'signed by another directory identity key than the pinned one');
  }
  if (!verifySignature(body, identityKey, signature)) throw new ProtocolError('bad_signature', 'the directory identity signature does not verify');
  const statement = decodeStatement(body);
  return { statement, body: body.slice(), identityKey: identityKey.slice(), signature: signature.slice(), bytes: bytes.slice() };
}

export function verifySignature(body: Uint8Array, identityKey: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, body, identityKey, { zip215: false });
  } catch {
    return false; // an undecodable key or signature is a signature that does not verify
  }
}

/** Opens an envelope that must hold an epoch key statement. */
export function openEpochKeyStatement(bytes: Uint8Array, options: OpenOptions = {}): Signed<EpochKeyStatement> {
  const signed = openSigned(bytes, options);
  if (signed.statement.kind !== 'epoch-key') throw new ProtocolError('bad_field', 'expected an epoch key statement, got an announcement');
  return signed as Signed<EpochKeyStatement>;
}

/** Opens an envelope that must hold an announcement. */
export function openAnnouncement(bytes: Uint8Array, options: OpenOptions = {}): Signed<Announcement> {
  const signed = openSigned(bytes, options);
  if (signed.statement.kind !== 'announcement') throw new ProtocolError('bad_field', 'expected an announcement, got an epoch key statement');
  return signed as Signed<Announcement>;
}
