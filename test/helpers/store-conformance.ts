/**
 * The one conformance suite every DirectoryStore passes (abstract-level style): random
 * sequences over EVERY operation of the contract (users and identifiers, change log, meta,
 * epochs, tags, sealed labels, tag log and deltas, lookups, snapshots, quota buckets) are
 * run against the store under test and against the reference store, and every answer must
 * be equal, step by step: results, error codes, orderings. The reference is SQLite in
 * memory, whose semantics the contract was written from; test/directory-store.test.ts checks
 * it against an explicit model of users and the change log.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { expect } from 'vitest';
import { ContactPsiError } from '../../src/errors.js';
import type { BucketState, DirectoryStore, DirectoryUserInput, LogEntryRecord, TagRecord } from '../../src/directory/types.js';
import { MAX_CHARGED_RECORD_BYTES } from '../../src/directory/buckets.js';

const USER_IDS = ['alice', 'bob', 'carol', 'dave'];
// U+FF41 sorts after astral characters in UTF-16 order and before them in code point order:
// every store must page and sort in code point order.
const IDENTIFIERS = [
  'tel:+41791234560',
  'tel:+41791234561',
  'tel:+4915112345678',
  'mailto:a@example.org',
  'mailto:\uff41@example.org',
  'mailto:\u{1f600}@example.org',
];
const EPOCHS = [1, 2];
const ACCOUNTS = ['acct-1', 'acct-2'];
const RECORD_KEYS = ['charged:acct-1:00', 'charged:acct-1:01'];

/** Deterministic tag bytes: a re-put with another `variant` changes the tag (a re-key). */
const tagOf = (epoch: number, identifier: string, variant: number) =>
  new Uint8Array(createHash('sha512').update(`${epoch}|${identifier}|${variant}`).digest());
const lookupKeyOf = (tag: Uint8Array) => new Uint8Array(createHash('sha256').update(tag).digest().subarray(0, 16));

export type StoreCommand =
  | { t: 'upsert'; users: { userId: string; identifiers: string[]; label: number[]; discoverable: boolean }[] }
  | { t: 'remove'; userId: string }
  | { t: 'meta'; key: string; value: string }
  | { t: 'registerEpoch'; epoch: number; publicKey: string }
  | { t: 'putTags'; epoch: number; identifiers: string[]; variant: number; sealed: boolean }
  | { t: 'fillMissing'; epoch: number; variant: number }
  | { t: 'pruneTags'; epoch: number }
  | { t: 'completeTags'; epoch: number; stale: boolean; start: boolean }
  | { t: 'activateEpoch'; epoch: number }
  | { t: 'sealUnsealed'; epoch: number; byte: number }
  | { t: 'trimTagLog'; epoch: number; back: number }
  | { t: 'dropEpoch'; epoch: number }
  | { t: 'snapshot'; epoch: number; byte: number }
  | { t: 'bucket'; account: string; tokens: number; updatedAt: number; refuse: boolean }
  | { t: 'putBucket'; account: string; tokens: number; updatedAt: number }
  | { t: 'quotaWrite'; buckets: { account: string; tokens: number; refuse: boolean }[]; records: { key: string; generation: number; bytes: number[] }[]; updatedAt: number }
  | { t: 'appendLog'; seqOffset: number; kind: 'epoch-key' | 'announcement'; epoch: number; version: number; byte: number };

const userArb = fc.record({
  userId: fc.constantFrom(...USER_IDS),
  identifiers: fc.subarray(IDENTIFIERS, { maxLength: 3 }),
  label: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 3 }),
  discoverable: fc.boolean(),
});
const epochArb = fc.constantFrom(...EPOCHS);

export const storeCommandArb: fc.Arbitrary<StoreCommand> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('upsert' as const), users: fc.uniqueArray(userArb, { minLength: 1, maxLength: 3, selector: (u) => u.userId }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), userId: fc.constantFrom(...USER_IDS) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('meta' as const), key: fc.constantFrom('a', 'b'), value: fc.string({ maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('registerEpoch' as const), epoch: epochArb, publicKey: fc.constantFrom('aa', 'bb') }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('putTags' as const),
      epoch: epochArb,
      identifiers: fc.subarray(IDENTIFIERS, { minLength: 1, maxLength: 3 }),
      variant: fc.integer({ min: 0, max: 1 }),
      sealed: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('fillMissing' as const), epoch: epochArb, variant: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('pruneTags' as const), epoch: epochArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('completeTags' as const), epoch: epochArb, stale: fc.boolean(), start: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('activateEpoch' as const), epoch: epochArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('sealUnsealed' as const), epoch: epochArb, byte: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('trimTagLog' as const), epoch: epochArb, back: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('dropEpoch' as const), epoch: epochArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('snapshot' as const), epoch: epochArb, byte: fc.integer({ min: 0, max: 255 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('bucket' as const),
      account: fc.constantFrom(...ACCOUNTS),
      tokens: fc.double({ min: -10, max: 100, noNaN: true }),
      updatedAt: fc.integer({ min: 0, max: 1e12 }),
      refuse: fc.boolean(),
    }),
  },
  {
    // The announcement log: appends at the next position, one before (a stale writer) or one
    // past it; (kind, epoch, version) repeats; a key statement with a version is malformed.
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('appendLog' as const),
      seqOffset: fc.constantFrom(0, 0, 0, -1, 1),
      kind: fc.constantFrom('epoch-key' as const, 'announcement' as const),
      epoch: epochArb,
      version: fc.integer({ min: 0, max: 2 }),
      byte: fc.integer({ min: 0, max: 255 }),
    }),
  },
  {
    // The quota ledger's charge (spec/sync-failover.md §4): several rows and a chain's records
    // in one transaction; a refusal anywhere writes nothing; a record of the same generation
    // is appended to, an older one replaced, a newer one left.
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('quotaWrite' as const),
      buckets: fc.array(fc.record({ account: fc.constantFrom(...ACCOUNTS), tokens: fc.double({ min: -10, max: 100, noNaN: true }), refuse: fc.integer({ min: 0, max: 5 }).map((n) => n === 0) }), { maxLength: 3 }),
      records: fc.array(
        fc.record({ key: fc.constantFrom(...RECORD_KEYS), generation: fc.integer({ min: 0, max: 2 }), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 3 }).map((b) => Array.from({ length: b.length * 8 }, (_, i) => b[i >> 3]! ^ i)) }),
        { maxLength: 3 },
      ),
      updatedAt: fc.integer({ min: 0, max: 1e12 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('putBucket' as const),
      account: fc.constantFrom(...ACCOUNTS),
      tokens: fc.double({ min: -10, max: 100, noNaN: true }),
      updatedAt: fc.integer({ min: 0, max: 1e12 }),
    }),
  },
);

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

/** Turns a thrown ContactPsiError into its code, so errors compare like results. */
async function outcome<T>(work: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ContactPsiError) return { error: err.code };
    throw err;
  }
}

/** Applies one command and returns everything observable about it, as plain data. */
async function apply(store: DirectoryStore, c: StoreCommand): Promise<unknown> {
  switch (c.t) {
    case 'upsert': {
      const users: DirectoryUserInput[] = c.users.map((u) => ({ ...u, label: Uint8Array.from(u.label) }));
      return outcome(() => store.upsertUsers(users));
    }
    case 'remove':
      return store.removeUser(c.userId);
    case 'meta':
      await store.setMeta({ [c.key]: c.value });
      return store.getMeta(c.key);
    case 'registerEpoch':
      await store.registerEpoch(c.epoch, c.publicKey);
      return store.getEpoch(c.epoch);
    case 'putTags': {
      const owners = new Map((await collect(store.discoverable())).map((e) => [e.identifier, e.userId]));
      const records: TagRecord[] = c.identifiers.map((identifier) => {
        const tag = tagOf(c.epoch, identifier, c.variant);
        // A pair that is not discoverable (or another user's) must be skipped by the store.
        const userId = owners.get(identifier) ?? 'alice';
        return c.sealed ? { identifier, userId, tag, lookupKey: lookupKeyOf(tag), sealed: tag.subarray(0, 8), labelVersion: 1 } : { identifier, userId, tag, lookupKey: lookupKeyOf(tag) };
      });
      return store.putTags(c.epoch, records);
    }
    case 'fillMissing': {
      const total = await store.countMissingTags(c.epoch);
      const missing = await store.missingTags(c.epoch, undefined, 2);
      const rest = missing.length === 0 ? [] : await store.missingTags(c.epoch, missing[missing.length - 1]!.identifier, 100);
      const all = [...missing, ...rest];
      const stored = await store.putTags(
        c.epoch,
        all.map((m) => {
          const tag = tagOf(c.epoch, m.identifier, c.variant);
          return { identifier: m.identifier, userId: m.userId, tag, lookupKey: lookupKeyOf(tag) };
        }),
      );
      return { total, missing: all.map((m) => ({ ...m, label: hex(m.label) })), stored };
    }
    case 'pruneTags':
      return store.pruneTags(c.epoch);
    case 'completeTags': {
      const version = (await store.version()) - (c.stale ? 1 : 0);
      return store.completeTags(c.epoch, version, c.start);
    }
    case 'activateEpoch':
      await store.activateEpoch(c.epoch, { epoch: String(c.epoch) });
      return store.getEpoch(c.epoch);
    case 'sealUnsealed': {
      const unsealed = await store.unsealedTags(c.epoch, undefined, 100);
      const stored = await store.putSealedLabels(
        c.epoch,
        unsealed.map((u) => ({ identifier: u.identifier, userId: u.userId, sealed: Uint8Array.of(c.byte, ...u.label), labelVersion: u.labelVersion })),
      );
      return { unsealed: unsealed.map((u) => ({ ...u, tag: hex(u.tag), label: hex(u.label) })), stored };
    }
    case 'trimTagLog': {
      const through = Math.max(0, (await store.version()) - c.back);
      await store.trimTagLog(c.epoch, through);
      return store.getEpoch(c.epoch);
    }
    case 'dropEpoch':
      return store.dropEpoch(c.epoch);
    case 'snapshot': {
      const version = await store.version();
      const bytes = Uint8Array.of(c.byte, version & 0xff);
      await store.putSnapshot({ epoch: c.epoch, version, kind: 'fuse', count: c.byte, digest: hex(bytes)!, bytes });
      const got = await store.getSnapshot(c.epoch, version, 'fuse');
      const older = version > 0 ? await store.getSnapshot(c.epoch, version - 1, 'fuse') : undefined;
      return { got: got && { ...got, bytes: hex(got.bytes) }, older: older === undefined };
    }
    case 'bucket':
      return outcome(() =>
        store.updateBucket(c.account, (state: BucketState | undefined) => {
          if (c.refuse) throw new ContactPsiError('rate_limited', 'refused by the policy');
          return { tokens: (state?.tokens ?? 0) + c.tokens, updatedAt: c.updatedAt };
        }),
      );
    case 'putBucket':
      await store.putBucket(c.account, { tokens: c.tokens, updatedAt: c.updatedAt });
      return store.getBucket(c.account);
    case 'quotaWrite':
      return outcome(() =>
        store.writeQuota({
          buckets: c.buckets.map((b) => ({
            key: b.account,
            update: (state: BucketState | undefined) => {
              if (b.refuse) throw new ContactPsiError('rate_limited', 'refused by the policy');
              return { tokens: (state?.tokens ?? 0) + b.tokens, updatedAt: c.updatedAt };
            },
          })),
          records: c.records.map((r) => ({ key: r.key, generation: r.generation, hashes: Uint8Array.from(r.bytes) })),
        }),
      );
    case 'appendLog': {
      const seq = (await store.logLength()) + c.seqOffset;
      return outcome(() => store.appendLog({ seq, kind: c.kind, epoch: c.epoch, version: c.version, envelope: Uint8Array.of(c.byte, c.epoch, c.version) }));
    }
  }
}

/** The announcement log as a reader sees it: its length, every entry, a page, each (kind, epoch, version). */
async function observeLog(store: DirectoryStore): Promise<unknown> {
  const plain = (e: LogEntryRecord | undefined) => e && { ...e, envelope: hex(e.envelope) };
  const found = [];
  for (const kind of ['epoch-key', 'announcement'] as const) {
    for (const epoch of EPOCHS) for (const version of [0, 1, 2]) found.push(plain(await store.findLogEntry(kind, epoch, version)));
  }
  return { length: await store.logLength(), all: (await store.readLog(0, 1000)).map(plain), page: (await store.readLog(1, 2)).map(plain), past: await store.readLog(1000, 5), found };
}

const chunks8 = (packed: Uint8Array): string[] => Array.from({ length: packed.length / 8 }, (_, i) => hex(packed.subarray(i * 8, i * 8 + 8))!);

/** Everything a reader can see of the store, as plain data (checked after every command). */
async function observe(store: DirectoryStore): Promise<unknown> {
  const version = await store.version();
  const epochs = await store.listEpochs();
  const perEpoch = [];
  for (const epoch of EPOCHS) {
    const set = await store.readTagSet(epoch);
    const prefixes = await store.readTagSet(epoch, 8);
    const deltas = [];
    for (let from = Math.max(0, version - 4); from <= version; from++) {
      const d = await store.tagDelta(epoch, from);
      // relabeled (issue 10 §4): label changes of tags present at both ends, disjoint from the net lists.
      if (d) for (const p of chunks8(d.relabeled)) expect(chunks8(d.added).includes(p) || chunks8(d.removed).includes(p)).toBe(false);
      deltas.push(d && { ...d, added: hex(d.added), removed: hex(d.removed), relabeled: hex(d.relabeled) });
    }
    const keys = IDENTIFIERS.flatMap((id) => [0, 1].map((v) => lookupKeyOf(tagOf(epoch, id, v))));
    const sealed = await store.lookupSealed(epoch, keys);
    const plain = await store.lookup(epoch, keys.slice(0, 3));
    perEpoch.push({
      epoch,
      record: await store.getEpoch(epoch),
      set: { ...set, packed: hex(set.packed) },
      prefixes: hex(prefixes.packed),
      deltas,
      sealed: sealed.map((m) => m && { ...m, label: hex(m.label), tag: hex(m.tag), sealed: hex(m.sealed) }),
      plain: plain.map((m) => m && { ...m, label: hex(m.label), tag: hex(m.tag) }),
      missing: await store.countMissingTags(epoch),
    });
  }
  const users = [];
  for (const id of USER_IDS) {
    const u = await store.getUser(id);
    users.push(u && { ...u, label: hex(u.label) });
  }
  return {
    version,
    users,
    count: await store.countUsers(),
    discoverable: await collect(store.discoverable()),
    changes: await store.changesSince(0),
    changesTail: await store.changesSince(Math.max(0, version - 2), 1),
    epochs,
    perEpoch,
    buckets: await Promise.all(ACCOUNTS.map((a) => store.getBucket(a))),
    charged: await Promise.all(RECORD_KEYS.map(async (k) => {
      const r = await store.chargedRecord(k);
      return r && { generation: r.generation, hashes: hex(r.hashes) };
    })),
    log: await observeLog(store),
  };
}

/**
 * Runs `numRuns` random command sequences against `open()` and `openReference()`, comparing
 * every answer and the observable state after every step.
 */
export async function checkStoreConformance(
  open: () => Promise<DirectoryStore>,
  openReference: () => Promise<DirectoryStore>,
  options: { numRuns: number; maxCommands: number; seed?: number },
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(storeCommandArb, { minLength: 1, maxLength: options.maxCommands }), async (commands) => {
      const [store, reference] = [await open(), await openReference()];
      try {
        for (const [i, command] of commands.entries()) {
          const got = await apply(store, command);
          const want = await apply(reference, command);
          expect({ step: i, command: command.t, result: got }).toEqual({ step: i, command: command.t, result: want });
          expect({ step: i, state: await observe(store) }).toEqual({ step: i, state: await observe(reference) });
        }
      } finally {
        await store.close();
        await reference.close();
      }
    }),
    { numRuns: options.numRuns, seed: options.seed },
  );
}

/** The invalid-input side of the contract: the same codes from every store. */
export async function checkStoreRefusals(store: DirectoryStore): Promise<Record<string, unknown>> {
  const code = async (work: () => Promise<unknown>) => {
    const r = await outcome(work);
    return typeof r === 'object' && r !== null && 'error' in r ? (r as { error: string }).error : 'accepted';
  };
  return {
    emptyAccount: await code(() => store.getBucket('')),
    longAccount: await code(() => store.putBucket('x'.repeat(257), { tokens: 1, updatedAt: 0 })),
    nanTokens: await code(() => store.putBucket('a', { tokens: Number.NaN, updatedAt: 0 })),
    fractionalTime: await code(() => store.updateBucket('a', () => ({ tokens: 1, updatedAt: 0.5 }))),
    partialHash: await code(() => store.writeQuota({ buckets: [], records: [{ key: 'charged:a', generation: 1, hashes: new Uint8Array(7) }] })),
    negativeGeneration: await code(() => store.writeQuota({ buckets: [], records: [{ key: 'charged:a', generation: -1, hashes: new Uint8Array(8) }] })),
    recordPastLimit: await code(() => store.writeQuota({ buckets: [], records: [{ key: 'charged:a', generation: 1, hashes: new Uint8Array(MAX_CHARGED_RECORD_BYTES + 8) }] })),
    longRecordKey: await code(() => store.chargedRecord('x'.repeat(257))),
    refusedWriteKeepsNothing: await code(async () => {
      await store.writeQuota({ buckets: [{ key: 'refusal-probe', update: () => ({ tokens: 5, updatedAt: 1 }) }, { key: 'b', update: () => { throw new ContactPsiError('rate_limited', 'no'); } }], records: [{ key: 'charged:probe', generation: 1, hashes: new Uint8Array(8) }] }).catch(() => {});
      if ((await store.getBucket('refusal-probe')) !== undefined || (await store.chargedRecord('charged:probe')) !== undefined) throw new ContactPsiError('partial_write', 'a refused quota write left rows behind');
    }),
    badIdentifier: await code(() => store.upsertUsers([{ userId: 'x', identifiers: ['tel:0041'] }])),
    duplicateUser: await code(() => store.upsertUsers([{ userId: 'x', identifiers: [] }, { userId: 'x', identifiers: [] }])),
    badPrefix: await code(() => store.readTagSet(1, 0)),
    badLogRange: await code(() => store.readLog(-1, 1)),
    emptyEnvelope: await code(() => store.appendLog({ seq: 0, kind: 'announcement', epoch: 1, version: 1, envelope: new Uint8Array(0) })),
    keyStatementWithVersion: await code(() => store.appendLog({ seq: 0, kind: 'epoch-key', epoch: 1, version: 3, envelope: Uint8Array.of(1) })),
  };
}
