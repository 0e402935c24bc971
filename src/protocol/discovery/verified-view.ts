/**
 * The client's whole check of what one sync was served (spec/verifiability.md §3, §9), for
 * the session to call in one place: the signed key statement and announcement go through
 * the pin rules, and what `dir.info` says unsigned (suite, key, epoch, version, count,
 * encoding, digest) must be what was signed. Then the tags the client ends up with are
 * checked against the signed announcement: a downloaded snapshot by its digest, a delta by
 * the commitment it must reach. Anything else is the directory showing this client a view
 * it did not sign: `key_conflict` for the key, `split_view` for the tags.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { SuiteId } from '../../oprf/suite.js';
import type { EncodingKind } from '../../setenc/types.js';
import type { Announcement, EpochKeyStatement, Signed } from './announcement.js';
import { bytesEqual } from './canonical-fields.js';
import { verifyDelta, type CommitmentOptions, type TagSetCommitment } from './commitment.js';
import { acceptAnnouncement, acceptEpochKey, type PinState } from './identity-pins.js';
import { VerifiabilityError } from './verify-error.js';

/** What `dir.info` announces unsigned, beside the two signed envelopes. */
export interface ServedInfo {
  readonly suite: SuiteId;
  readonly epoch: number;
  readonly version: number;
  readonly publicKey: Uint8Array;
  readonly digest: Uint8Array;
  readonly encoding: EncodingKind;
  readonly count: number;
}

export interface VerifiedView {
  readonly state: PinState;
  readonly epochKey: Signed<EpochKeyStatement>;
  readonly announcement: Signed<Announcement>;
}

/** Runs the pin rules over the served envelopes and checks `info` against them. */
export function acceptServedView(state: PinState, epochKeyEnvelope: Uint8Array, announcementEnvelope: Uint8Array, info: ServedInfo): VerifiedView {
  const withKey = acceptEpochKey(state, epochKeyEnvelope);
  const next = acceptAnnouncement(withKey, announcementEnvelope);
  const epochKey = next.epochKey!;
  const announcement = next.latest!;
  const k = epochKey.statement;
  const a = announcement.statement;
  if (k.suite !== info.suite || k.epoch !== info.epoch || !bytesEqual(k.publicKey, info.publicKey)) {
    throw new VerifiabilityError('key_conflict', `dir.info names another key than the signed statement for epoch ${k.epoch}`, { evidence: [epochKey.bytes] });
  }
  if (a.epoch !== info.epoch || a.version !== info.version || a.count !== info.count || a.encoding !== info.encoding || !bytesEqual(a.snapshotDigest, info.digest)) {
    throw new VerifiabilityError('split_view', `dir.info differs from the signed announcement of epoch ${a.epoch} version ${a.version}`, { evidence: [announcement.bytes] });
  }
  return { state: next, epochKey, announcement };
}

/** A full download: the snapshot bytes must be the signed ones. Returns the commitment to keep. */
export function checkSnapshot(announcement: Signed<Announcement>, snapshot: Uint8Array): TagSetCommitment {
  const a = announcement.statement;
  if (!bytesEqual(sha256(snapshot), a.snapshotDigest)) {
    throw new VerifiabilityError('split_view', `the snapshot is not the one signed for epoch ${a.epoch} version ${a.version}`, { evidence: [announcement.bytes] });
  }
  return { count: a.count, digest: a.commitment };
}

/**
 * A delta from the commitment the client holds (of its cached version, same epoch) to the
 * signed announcement. Returns the new commitment to keep; `split_view` if not reached.
 */
export function checkDelta(held: TagSetCommitment, added: Uint8Array, removed: Uint8Array, announcement: Signed<Announcement>, options: CommitmentOptions = {}): TagSetCommitment {
  const a = announcement.statement;
  try {
    return verifyDelta(held, added, removed, { count: a.count, digest: a.commitment }, options);
  } catch (err) {
    const e = err as VerifiabilityError;
    if (e.code !== 'split_view') throw err;
    throw new VerifiabilityError('split_view', `${e.message} (epoch ${a.epoch} version ${a.version})`, { evidence: [announcement.bytes], cause: err });
  }
}
