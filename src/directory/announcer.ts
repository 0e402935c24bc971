/**
 * The server side of verifiability (spec/verifiability.md §9): the directory identity signs
 * each epoch's key statement when the epoch is first served and an announcement for each
 * served (epoch, version), and appends both to the append-only announcement log of the store
 * (AnnouncementStore). The signed envelopes are what dir.info carries, what dir.log and the
 * witness query hand out, and what clients pin.
 *
 * The tag-set commitment of a version is computed once: incrementally from the previous
 * announcement of the epoch and the tag delta since (O(changes), the usual case), or from
 * the whole tag set when no earlier announcement or delta reaches (the first version of an
 * epoch, after a rotation). It then lives in the log, so a restart, or a second node on the
 * same store, finds the entry and recomputes nothing.
 *
 * Never two bodies for one (epoch, version) or one epoch key: an existing entry is reused,
 * and the store's unique index refuses a second one. Appends race safely between nodes:
 * `appendLog` writes only at the next free position, and a loser re-reads and reuses.
 */
import { ContactPsiError } from '../errors.js';
import type { SuiteId } from '../oprf/suite.js';
import {
  entryHash,
  GENESIS_PREV,
  openAnnouncement,
  openEpochKeyStatement,
  openSigned,
  signStatement,
  type Announcement,
  type EpochKeyStatement,
  type Signed,
} from '../protocol/discovery/announcement.js';
import { bytesEqual } from '../protocol/discovery/canonical-fields.js';
import { applyDelta, commitPrefixes, type CommitmentOptions, type TagSetCommitment } from '../protocol/discovery/commitment.js';
import type { LogRange, SignedView } from '../protocol/discovery/backend.js';
import type { EncodingKind } from '../setenc/types.js';
import type { IdentityKey } from './identity-key.js';
import { TAG_PREFIX_BYTES } from './tag-delta.js';
import type { AnnouncementStore, DirectoryStore, LogEntryRecord } from './types.js';

/** Appends retried when other nodes keep appending first. */
const APPEND_ATTEMPTS = 8;

/** What is announced about one served snapshot. */
export interface ServedSnapshot {
  readonly suite: SuiteId;
  readonly epoch: number;
  readonly publicKey: Uint8Array;
  /** When the epoch key was created (ms), informative. */
  readonly validFrom?: number;
  readonly version: number;
  readonly count: number;
  readonly encoding: EncodingKind;
  /** SHA-256 of the snapshot bytes. */
  readonly digest: Uint8Array;
}

export type AnnouncerStore = AnnouncementStore & Pick<DirectoryStore, 'tagDelta' | 'readTagSet'>;

export interface AnnouncerOptions {
  readonly store: AnnouncerStore;
  readonly identity: IdentityKey;
  /** A ristretto255 backend for the commitment (sodium: ~8x faster than the default). */
  readonly commitment?: CommitmentOptions;
}

export class Announcer {
  readonly #store: AnnouncerStore;
  readonly #identity: IdentityKey;
  readonly #commitment: CommitmentOptions;
  /** Commitments computed from scratch: how often the expensive path ran (for tests and logs). */
  fullCommitments = 0;
  /**
   * Key statements found in the log or appended, verified, by epoch: the log is append-only
   * and holds one per epoch (the store's unique index), so each is read and verified once,
   * not at every view served (a fleet serves one per directory change).
   */
  readonly #keyStatements = new Map<number, Signed<EpochKeyStatement>>();
  /**
   * The log's tail as this announcer last appended it: the next append's position and
   * previous hash without reading and verifying the tail again. Only a hint: an append at a
   * position another writer took fails (appendLog), and the tail is then read again.
   */
  #appended: { length: number; prev: Uint8Array; entry: LogEntryRecord } | undefined;

  constructor(options: AnnouncerOptions) {
    this.#store = options.store;
    this.#identity = options.identity;
    this.#commitment = options.commitment ?? {};
  }

  get identityKey(): Uint8Array {
    return this.#identity.publicKey.slice();
  }

  /**
   * The signed key statement and announcement of a served snapshot, appended to the log
   * where missing. `announcement_stale` when the log has moved past it (another node
   * rotated or announced a newer version first): refresh and try again.
   */
  async sign(view: ServedSnapshot): Promise<SignedView> {
    const keyStatement = await this.#epochKey(view);
    const announcement = await this.#announcement(view);
    return { identity: this.identityKey, keyStatement: keyStatement.bytes, announcement: announcement.bytes };
  }

  /** A range of the log for dir.log.get. */
  async log(from: number, limit: number): Promise<LogRange> {
    const total = await this.#store.logLength();
    const entries = from >= total ? [] : await this.#store.readLog(from, limit);
    return { entries: entries.map((e) => e.envelope), total };
  }

  /** The witness answer: the newest announcement, and the one for (epoch, version) if held and another. */
  async announcements(epoch: number, version: number): Promise<Uint8Array[]> {
    const newest = await this.#newestAnnouncement();
    if (newest === undefined) return [];
    const asked = await this.#store.findLogEntry('announcement', epoch, version);
    return asked === undefined || asked.seq === newest.seq ? [newest.envelope] : [newest.envelope, asked.envelope];
  }

  async #epochKey(view: ServedSnapshot): Promise<Signed<EpochKeyStatement>> {
    const known = this.#keyStatements.get(view.epoch);
    if (known) return this.#sameKey(known, view);
    for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
      const held = await this.#store.findLogEntry('epoch-key', view.epoch, 0);
      if (held) {
        const signed = this.#sameKey(this.#open(held, openEpochKeyStatement), view);
        this.#keyStatements.set(view.epoch, signed);
        return signed;
      }
      const tail = await this.#tail();
      const newestEpoch = await this.#newestStatementEpoch(tail);
      if (newestEpoch !== undefined && newestEpoch > view.epoch) {
        if (this.#dropHint(tail)) continue;
        throw new ContactPsiError('announcement_stale', `the announcement log is at epoch ${newestEpoch}, past the served epoch ${view.epoch}`);
      }
      const statement: EpochKeyStatement = {
        kind: 'epoch-key',
        seq: tail.length,
        prev: tail.prev,
        suite: view.suite,
        epoch: view.epoch,
        publicKey: view.publicKey,
        ...(view.validFrom === undefined ? {} : { validFrom: view.validFrom }),
      };
      const signed = signStatement(statement, this.#identity.secretKey);
      const entry: LogEntryRecord = { seq: statement.seq, kind: 'epoch-key', epoch: view.epoch, version: 0, envelope: signed.bytes };
      if (this.#append(entry, signed.body, await this.#store.appendLog(entry))) {
        this.#keyStatements.set(view.epoch, signed);
        return signed;
      }
    }
    throw new ContactPsiError('directory_busy', `the announcement log kept moving during ${APPEND_ATTEMPTS} appends`);
  }

  #sameKey(signed: Signed<EpochKeyStatement>, view: ServedSnapshot): Signed<EpochKeyStatement> {
    const s = signed.statement;
    if (s.suite !== view.suite || !bytesEqual(s.publicKey, view.publicKey)) {
      throw new ContactPsiError('key_conflict', `the announcement log holds another key for epoch ${view.epoch} than the key file`);
    }
    return signed;
  }

  /** A check failed on the hinted tail: forget it and read the log (true), or it was read (false: the failure stands). */
  #dropHint(tail: { hinted?: boolean }): boolean {
    if (tail.hinted !== true) return false;
    this.#appended = undefined;
    return true;
  }

  /** Keeps the tail of a successful append as the next one's hint; forgets the hint when the append lost. */
  #append(entry: LogEntryRecord, body: Uint8Array, appended: boolean): boolean {
    this.#appended = appended ? { length: entry.seq + 1, prev: entryHash(body), entry } : undefined;
    return appended;
  }

  async #announcement(view: ServedSnapshot): Promise<Signed<Announcement>> {
    let commitment: TagSetCommitment | undefined;
    for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
      const held = await this.#store.findLogEntry('announcement', view.epoch, view.version);
      if (held) {
        const signed = this.#open(held, openAnnouncement);
        const a = signed.statement;
        // One (epoch, version) has one snapshot: a rebuilt one that differs cannot be signed again.
        if (a.count !== view.count || a.encoding !== view.encoding || !bytesEqual(a.snapshotDigest, view.digest)) {
          throw new ContactPsiError('announcement_conflict', `epoch ${view.epoch} version ${view.version} was announced with another snapshot (${a.encoding}) than the one served (${view.encoding})`);
        }
        return signed;
      }
      const tail = await this.#tail();
      const last = tail.entry && openSigned(tail.entry.envelope).statement;
      if (last && (last.epoch > view.epoch || (last.kind === 'announcement' && last.epoch === view.epoch && last.version > view.version))) {
        if (this.#dropHint(tail)) continue;
        throw new ContactPsiError('announcement_stale', `the announcement log is past epoch ${view.epoch} version ${view.version}`);
      }
      if ((!last || last.epoch !== view.epoch) && this.#dropHint(tail)) continue;
      if (!last || last.epoch !== view.epoch) throw new ContactPsiError('announcement_stale', `the key statement of epoch ${view.epoch} is not the newest log entry`);
      commitment ??= await this.#commit(view, last.kind === 'announcement' ? last : undefined);
      const statement: Announcement = {
        kind: 'announcement',
        seq: tail.length,
        prev: tail.prev,
        epoch: view.epoch,
        version: view.version,
        count: commitment.count,
        commitment: commitment.digest,
        encoding: view.encoding,
        snapshotDigest: view.digest,
      };
      const signed = signStatement(statement, this.#identity.secretKey);
      const entry: LogEntryRecord = { seq: statement.seq, kind: 'announcement', epoch: view.epoch, version: view.version, envelope: signed.bytes };
      if (this.#append(entry, signed.body, await this.#store.appendLog(entry))) return signed;
    }
    throw new ContactPsiError('directory_busy', `the announcement log kept moving during ${APPEND_ATTEMPTS} appends`);
  }

  /** The commitment of the served tags: from the previous announcement and the delta since, else from scratch. */
  async #commit(view: ServedSnapshot, previous: Announcement | undefined): Promise<TagSetCommitment> {
    if (previous && previous.version < view.version) {
      const delta = await this.#store.tagDelta(view.epoch, previous.version);
      if (delta && delta.toVersion === view.version) {
        const moved = applyDelta({ count: previous.count, digest: previous.commitment }, delta.added, delta.removed, this.#commitment);
        if (moved.count === view.count) return moved;
      }
    }
    const set = await this.#store.readTagSet(view.epoch, TAG_PREFIX_BYTES);
    // The snapshot was built from this very tag set (same version, complete): else it moved on meanwhile.
    if (set.version !== view.version || set.count !== view.count || set.missing + set.stale > 0) {
      throw new ContactPsiError('announcement_stale', `the tags of epoch ${view.epoch} moved past the snapshot of version ${view.version}`);
    }
    this.fullCommitments++;
    return commitPrefixes(set.packed, this.#commitment);
  }

  /** Opens a stored entry, which must be signed by this node's identity. */
  #open<T extends Signed>(entry: LogEntryRecord, opener: (b: Uint8Array, o: { identityKey: Uint8Array }) => T): T {
    try {
      return opener(entry.envelope, { identityKey: this.#identity.publicKey });
    } catch (err) {
      throw new ContactPsiError('identity_mismatch', `log entry ${entry.seq} does not verify under this server's identity key (every node of a directory needs the same identity): ${(err as Error).message}`, { cause: err });
    }
  }

  async #tail(): Promise<{ length: number; prev: Uint8Array; entry: LogEntryRecord | undefined; hinted?: boolean }> {
    if (this.#appended !== undefined) return { ...this.#appended, hinted: true };
    const length = await this.#store.logLength();
    if (length === 0) return { length, prev: GENESIS_PREV, entry: undefined };
    const [entry] = await this.#store.readLog(length - 1, 1);
    const signed = this.#open(entry!, openSigned);
    return { length, prev: entryHash(signed.body), entry };
  }

  async #newestStatementEpoch(tail: { entry: LogEntryRecord | undefined }): Promise<number | undefined> {
    // Every entry after a key statement belongs to its epoch, so the tail's epoch is the newest statement's.
    return tail.entry?.epoch;
  }

  async #newestAnnouncement(): Promise<LogEntryRecord | undefined> {
    const length = await this.#store.logLength();
    // The newest announcement is the tail, or right before a fresh key statement (a few entries back at most; 64 are looked at).
    for (let seq = length - 1; seq >= 0 && seq >= length - 64; seq--) {
      const [entry] = await this.#store.readLog(seq, 1);
      if (entry?.kind === 'announcement') return entry;
    }
    return undefined;
  }
}
