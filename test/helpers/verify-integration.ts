/**
 * Pieces of the verifiability integration tests (test/verify-integration-*.test.ts): a real
 * SQLite directory served by the real DirectoryDiscoveryBackend under a known identity, and
 * a HOSTILE backend in front of it. The hostile server holds the identity's secret key (it
 * is the operator), so it can sign whatever it likes; what it cannot do is make two
 * signed views agree. Each attack of the issue (10 §1, §2) is one `Attack`.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { Directory, SqliteStore } from '../../src/directory/index.js';
import { DirectoryDiscoveryBackend } from '../../src/directory/discovery-backend.js';
import type { IdentityKey } from '../../src/directory/identity-key.js';
import { identityPublicKey, openAnnouncement, openEpochKeyStatement, signStatement, entryHash } from '../../src/protocol/discovery/announcement.js';
import type { DiscoveryBackend, EpochView, LogRange, TagDelta } from '../../src/protocol/discovery/backend.js';
import { applyDelta } from '../../src/protocol/discovery/commitment.js';
import { lookupKeyOf } from '../../src/protocol/discovery/labels.js';
import { DiscoveryServerSession } from '../../src/protocol/discovery/server.js';
import { buildEncoding, deriveParameters } from '../../src/setenc/index.js';
import { startServer, type PsiServer } from '../../src/transport/ws/index.js';
import { directorySuite } from './service.js';

export const utf8 = new TextEncoder();
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export function identityOf(seed: number): IdentityKey {
  const secretKey = sha256(utf8.encode(`verify-integration identity ${seed}`));
  return { secretKey, publicKey: identityPublicKey(secretKey) };
}

/** A registered user per phone number; `T` numbers are never registered (the attacker's probes). */
export const USERS = Array.from({ length: 12 }, (_, i) => ({ userId: `user-${i}`, identifiers: [`tel:+4179100${String(i).padStart(4, '0')}`], label: utf8.encode(`pk:user-${i}`) }));
export const probe = (i: number): string => `tel:+4179200${String(i).padStart(4, '0')}`;

export interface HonestDirectory {
  directory: Directory;
  backend: DirectoryDiscoveryBackend;
  identity: IdentityKey;
  close(): Promise<void>;
}

/** A SQLite directory at `db` with USERS (minus `skip`), served and signed under `identity`. */
export async function honestDirectory(db: string, identity: IdentityKey, skip = 0): Promise<HonestDirectory> {
  const directory = await Directory.open({ store: SqliteStore.open(db), suite: directorySuite() });
  await directory.importUsers(USERS.slice(0, USERS.length - skip));
  await directory.precompute();
  const backend = await DirectoryDiscoveryBackend.open(directory, 'fuse', Date.now(), { identity });
  return { directory, backend, identity, close: () => directory.close() };
}

/** The tag F(k, identifier) of the served epoch: what a server can compute for any number. */
export function tagOf(view: EpochView, identifier: string): Uint8Array {
  return view.suite.evaluate(view.keys.secretKey, [utf8.encode(identifier)])[0]!;
}

export const AttackKinds = ['lyingDelta', 'privateSnapshot', 'privateDigest', 'perClientKey', 'secondKeyStatement', 'lowerEpoch', 'forgedSignature', 'foreignIdentity', 'unsigned'] as const;
export type AttackKind = (typeof AttackKinds)[number];

export interface Attack {
  kind: AttackKind;
  /** The probe number planted (issue 10 §1: the server tests whether this client holds it). */
  plant: string;
  /** A registered user hidden from the client. */
  hide: number;
  /** Which byte of a signature is flipped (forgedSignature). */
  flip: number;
}

/**
 * The honest backend, except for one attack on the current view or the delta. `lowerEpoch`
 * needs `old` (a view of an earlier epoch, with its genuine signed envelopes).
 */
export class HostileBackend implements DiscoveryBackend {
  /** Lookup keys the clients asked labels for: what the server learns. */
  readonly asked = new Set<string>();
  #view: EpochView | undefined;

  constructor(
    readonly honest: DirectoryDiscoveryBackend,
    readonly identity: IdentityKey,
    public attack: Attack | undefined,
    public old?: EpochView,
  ) {}

  /** Called after the honest backend refreshed: the attacked view is rebuilt. */
  reset(): void {
    this.#view = undefined;
  }

  current(): EpochView {
    this.#view ??= this.#attacked(this.honest.current());
    return this.#view;
  }

  epoch(e: number): EpochView | undefined {
    return e === this.current().epoch ? this.current() : this.honest.epoch(e);
  }

  async sealedLabels(epoch: number, keys: readonly Uint8Array[]): Promise<readonly (Uint8Array | readonly Uint8Array[] | undefined)[]> {
    for (const k of keys) this.asked.add(hex(k));
    return this.honest.sealedLabels(epoch, keys);
  }

  async delta(epoch: number, fromVersion: number): Promise<TagDelta | undefined> {
    const d = await this.honest.delta(epoch, fromVersion);
    if (!d || this.attack?.kind !== 'lyingDelta') return d;
    const view = this.honest.current();
    // Plant the probe's tag prefix and hide a real user's: the issue 10 §1 attack.
    const planted = tagOf(view, this.attack.plant).subarray(0, 8);
    const hidden = tagOf(view, USERS[this.attack.hide]!.identifiers[0]!).subarray(0, 8);
    return { ...d, added: sortedUnion(d.added, planted), removed: sortedUnion(d.removed, hidden) };
  }

  log(from: number, limit: number): Promise<LogRange> {
    return this.honest.log(from, limit);
  }

  announcements(epoch: number, version: number): Promise<Uint8Array[]> {
    return this.honest.announcements(epoch, version);
  }

  #attacked(view: EpochView): EpochView {
    const a = this.attack;
    if (!a || a.kind === 'lyingDelta') return view;
    const signed = view.signed!;
    switch (a.kind) {
      case 'privateSnapshot':
      case 'privateDigest': {
        // A snapshot with the probe planted, shown to this client only.
        const tags = [...honestTags(view), tagOf(view, a.plant)];
        const bytes = buildEncoding(deriveParameters({ kind: 'fuse', serverSize: tags.length, clientSize: 1, falsePositiveRate: 2 ** -29 }), tags).serialize();
        // privateSnapshot: dir.info names the private digest; privateDigest: it names the signed one, the bytes are private.
        const digest = a.kind === 'privateSnapshot' ? sha256(bytes) : view.snapshot.digest;
        return { ...view, snapshot: { ...view.snapshot, bytes, digest, count: a.kind === 'privateSnapshot' ? tags.length : view.snapshot.count } };
      }
      case 'perClientKey': {
        // Another OPRF key for this client, under the epoch's signed statement.
        const keys = view.suite.generateKeyPair((n) => new Uint8Array(randomBytes(n)));
        return { ...view, keys };
      }
      case 'secondKeyStatement': {
        // The operator signs a second key for the same epoch (and an announcement after it).
        const keys = view.suite.generateKeyPair((n) => new Uint8Array(randomBytes(n)));
        const ann = openAnnouncement(signed.announcement).statement;
        const k = openEpochKeyStatement(signed.keyStatement).statement;
        const statement = signStatement({ ...k, seq: ann.seq + 1, prev: entryHash(openAnnouncement(signed.announcement).body), publicKey: keys.publicKey }, this.identity.secretKey);
        const announcement = signStatement({ ...ann, seq: ann.seq + 2, prev: entryHash(statement.body) }, this.identity.secretKey);
        return { ...view, keys, signed: { ...signed, keyStatement: statement.bytes, announcement: announcement.bytes } };
      }
      case 'lowerEpoch':
        return this.old!;
      case 'forgedSignature': {
        const bytes = signed.announcement.slice();
        bytes[bytes.length - 1 - (a.flip % 64)]! ^= 1 << (a.flip % 8);
        return { ...view, signed: { ...signed, announcement: bytes } };
      }
      case 'foreignIdentity': {
        // Every entry re-signed by another key: a directory impersonating this one.
        const other = identityOf(999);
        const k = signStatement(openEpochKeyStatement(signed.keyStatement).statement, other.secretKey);
        const ann = signStatement(openAnnouncement(signed.announcement).statement, other.secretKey);
        return { ...view, signed: { identity: other.publicKey, keyStatement: k.bytes, announcement: ann.bytes } };
      }
      case 'unsigned': {
        const { signed: _, ...unsigned } = view;
        return unsigned;
      }
    }
  }
}

/** The served epoch's tags, recomputed from the users (the test knows the directory). */
export function honestTags(view: EpochView, skip = 0): Uint8Array[] {
  return view.suite.evaluate(view.keys.secretKey, USERS.slice(0, USERS.length - skip).map((u) => utf8.encode(u.identifiers[0]!)));
}

/** The commitment the honest announcement holds, moved by a lie (for witness tests). */
export const movedCommitment = applyDelta;

function sortedUnion(packed: Uint8Array, prefix: Uint8Array): Uint8Array {
  const items: string[] = [];
  for (let off = 0; off < packed.length; off += 8) items.push(hex(packed.subarray(off, off + 8)));
  if (!items.includes(hex(prefix))) items.push(hex(prefix));
  items.sort();
  return new Uint8Array(Buffer.from(items.join(''), 'hex'));
}

/** Serves `backend` over loopback WebSocket, sessions as serve.ts builds them. */
export async function serveBackend(backend: DiscoveryBackend, onEvaluate?: (count: number) => void): Promise<PsiServer> {
  return startServer({
    host: '127.0.0.1',
    port: 0,
    createSession: ({ now }) => new DiscoveryServerSession({ backend, rng: (n) => new Uint8Array(randomBytes(n)), now, gate: onEvaluate }),
  });
}

export const lookupKeyHex = (view: EpochView, identifier: string): string => hex(lookupKeyOf(tagOf(view, identifier)));

/** A CSV address book: the first `known` registered users, then the probes. */
export function bookCsv(known: number[], probes: number[]): string {
  const rows = ['name,phone'];
  for (const i of known) rows.push(`User ${i},${USERS[i]!.identifiers[0]!.slice(4)}`);
  for (const p of probes) rows.push(`Probe ${p},${probe(p).slice(4)}`);
  return `${rows.join('\n')}\n`;
}
