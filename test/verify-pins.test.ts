import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entryHash, identityPublicKey, signStatement, type Announcement, type EpochKeyStatement, type Signed } from '../src/protocol/discovery/announcement.js';
import { acceptAnnouncement, acceptEntry, acceptEpochKey, decodePins, encodePins, newPins, type PinState } from '../src/protocol/discovery/identity-pins.js';
import { VerifiabilityError } from '../src/protocol/discovery/verify-error.js';
import { codeOf, identitySecret, LogBuilder } from './helpers/verify-log.js';

type Step = { op: 'rotate'; gap: number } | { op: 'announce'; gap: number; seen: boolean };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rotate' as const), gap: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('announce' as const), gap: fc.integer({ min: 1, max: 4 }), seen: fc.boolean() }) },
);
/** An honest history: the first entry is a key statement. */
const history = fc.array(step, { minLength: 1, maxLength: 14 }).map((s): Step[] => [{ op: 'rotate', gap: 1 }, ...s]);

const synced = history.map((h): Step[] => [...h, { op: 'announce', gap: 1, seen: true }]);

const secret = identitySecret(1);
const identity = identityPublicKey(secret);

/**
 * Plays a history: the directory logs every step; the client syncs after the announcements
 * marked `seen`, getting the current key statement then that announcement (what a sync shows).
 */
function play(steps: Step[], start: PinState = newPins({ identityKey: identity })) {
  const log = new LogBuilder(secret, 5);
  let state = start;
  let key: Signed<EpochKeyStatement> | undefined;
  let syncs = 0;
  for (const s of steps) {
    if (s.op === 'rotate') key = log.rotate(s.gap);
    else {
      const a = log.announce(s.gap);
      if (s.seen) {
        state = acceptEpochKey(state, key!.bytes);
        state = acceptAnnouncement(state, a.bytes);
        // Idempotent: the same sync answer twice changes nothing.
        expect(acceptAnnouncement(state, a.bytes)).toEqual(state);
        expect(decodePins(encodePins(state))).toEqual(state);
        syncs++;
      }
    }
  }
  return { log, state, syncs };
}

describe('pin state machine', () => {
  it('generators reach rotations between syncs and several syncs per epoch', () => {
    const samples = fc.sample(history, { numRuns: 200, seed: 3 });
    expect(samples.some((h) => h.filter((s) => s.op === 'rotate').length >= 3)).toBe(true);
    expect(samples.some((h) => h.some((s, i) => s.op === 'rotate' && i > 0 && h.slice(0, i).some((x) => x.op === 'announce' && x.seen)))).toBe(true);
  });

  it('every honest history with rotations is followed (configured pin and trust on first use)', () => {
    fc.assert(
      fc.property(history, fc.boolean(), (steps, tofu) => {
        const { log, state, syncs } = play(steps, tofu ? newPins() : newPins({ identityKey: identity }));
        const lastSeen = [...steps].reverse().find((s) => s.op === 'announce' && s.seen);
        if (!lastSeen) return;
        expect(syncs).toBeGreaterThan(0);
        expect(state.identityKey).toEqual(identity);
        expect(state.pinnedBy).toBe(tofu ? 'first-use' : 'config');
        expect(state.latest?.statement.kind).toBe('announcement');
        expect(log.entries).toContainEqual(state.latest);
      }),
      { numRuns: 25 },
    );
  });

  it('a client that replays the whole log entry by entry ends at its head', () => {
    fc.assert(
      fc.property(history, (steps) => {
        const { log } = play(steps.map((s) => (s.op === 'announce' ? { ...s, seen: false } : s)));
        let state = newPins();
        for (const e of log.entries) state = acceptEntry(state, e.bytes);
        expect(state.epochKey).toEqual([...log.entries].reverse().find((e) => e.statement.kind === 'epoch-key'));
      }),
      { numRuns: 15 },
    );
  });

  /** An honest client state after two epochs (key 2 current, version 3 seen), and the log that made it. */
  function honest() {
    const log = new LogBuilder(secret, 7);
    const k1 = log.rotate();
    log.announce();
    const k2 = log.rotate();
    log.announce();
    const a = log.announce(2);
    let state = acceptEpochKey(newPins({ identityKey: identity }), k2.bytes);
    state = acceptAnnouncement(state, a.bytes);
    return { log, state, k1, k2, a };
  }
  const position = (log: LogBuilder) => ({ seq: log.entries.length, prev: entryHash(log.entries.at(-1)!.body) });

  it('refuses each adversarial event with its code, and the state stands', () => {
    const { log, state, k1, k2, a } = honest();
    const before = encodePins(state);
    const s = (x: EpochKeyStatement | Announcement, key = secret) => signStatement(x, key).bytes;
    const cases: [string, () => PinState][] = [
      // A key for a lower epoch: a revived or private old key.
      ['key_conflict', () => acceptEpochKey(state, k1.bytes)],
      ['key_conflict', () => acceptEpochKey(state, s({ ...k1.statement, ...position(log) }))],
      // Another key for the current epoch: a per-client key.
      ['key_conflict', () => acceptEpochKey(state, s({ ...k2.statement, publicKey: new Uint8Array(32).fill(9) }))],
      // A lower version of the current epoch, and an old epoch's announcement.
      ['rollback', () => acceptAnnouncement(state, log.entries[3].bytes)],
      ['rollback', () => acceptAnnouncement(state, s({ ...a.statement, ...position(log), version: 1 }))],
      ['rollback', () => acceptAnnouncement(state, log.entries[1].bytes)],
      // Two commitments for one (epoch, version).
      ['split_view', () => acceptAnnouncement(state, s({ ...a.statement, commitment: new Uint8Array(32).fill(1) }))],
      ['split_view', () => acceptAnnouncement(state, s({ ...a.statement, count: a.statement.count + 1 }))],
      // A newer version that does not chain to the held entry (a fork), or sits before it.
      ['split_view', () => acceptAnnouncement(state, s({ ...a.statement, version: 9, seq: a.statement.seq + 1, prev: new Uint8Array(32) }))],
      ['split_view', () => acceptAnnouncement(state, s({ ...a.statement, version: 9, seq: a.statement.seq - 1 }))],
      // An announcement for an epoch whose key was never shown.
      ['unknown_epoch', () => acceptAnnouncement(state, s({ ...a.statement, ...position(log), epoch: 3, version: 1 }))],
      // A forged signature, another identity.
      ['bad_signature', () => acceptAnnouncement(state, forge(log.announce().bytes))],
      ['identity_mismatch', () => acceptAnnouncement(state, s({ ...a.statement, ...position(log), version: 7 }, identitySecret(2)))],
      ['identity_mismatch', () => acceptEpochKey(state, s({ ...k2.statement, ...position(log), epoch: 5 }, identitySecret(2)))],
    ];
    for (const [code, run] of cases) {
      expect(codeOf(run), code).toBe(code);
      expect(encodePins(state)).toEqual(before);
    }
  });

  it('a split view carries both signed announcements as evidence', () => {
    const { state, a } = honest();
    const other = signStatement({ ...a.statement, commitment: new Uint8Array(32).fill(1) }, secret).bytes;
    try {
      acceptAnnouncement(state, other);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(VerifiabilityError);
      expect((err as VerifiabilityError).evidence).toEqual([a.bytes, other]);
    }
  });

  it('generated adversarial events after generated honest histories are refused with the right code', () => {
    const attack = fc.constantFrom('lower-key', 'other-key', 'rollback', 'forged', 'other-identity', 'split');
    fc.assert(
      // The history ends with a sync, so the client always holds a key and an announcement.
      fc.property(synced, attack, (steps, kind) => {
        const { log, state } = play(steps);
        const key = state.epochKey!;
        const latest = state.latest!;
        const pos = { seq: log.entries.length, prev: entryHash(log.entries.at(-1)!.body) };
        const k = key.statement;
        const l = latest.statement;
        const sign = (x: EpochKeyStatement | Announcement, sk = secret) => signStatement(x, sk).bytes;
        const expected: Record<string, [string, () => unknown]> = {
          'lower-key': ['key_conflict', () => acceptEpochKey(state, sign({ ...k, ...pos, epoch: k.epoch - 1 }))],
          'other-key': ['key_conflict', () => acceptEpochKey(state, sign({ ...k, publicKey: k.publicKey.map((b) => b ^ 1) }))],
          rollback: ['rollback', () => acceptAnnouncement(state, sign({ ...l, ...pos, version: l.version - 1 }))],
          forged: ['bad_signature', () => acceptAnnouncement(state, forge(sign({ ...l, ...pos, version: l.version + 1 })))],
          'other-identity': ['identity_mismatch', () => acceptAnnouncement(state, sign({ ...l, ...pos, version: l.version + 1 }, identitySecret(3)))],
          split: ['split_view', () => acceptAnnouncement(state, sign({ ...l, snapshotDigest: l.snapshotDigest.map((b) => b ^ 0x80) }))],
        };
        const [code, run] = expected[kind];
        expect(codeOf(run), kind).toBe(code);
      }),
      { numRuns: 40 },
    );
  });

  it('trust on first use pins the first signer; a later identity is refused', () => {
    const log = new LogBuilder(identitySecret(4), 2);
    const k = log.rotate();
    const state = acceptEpochKey(newPins(), k.bytes);
    expect(state.identityKey).toEqual(identityPublicKey(identitySecret(4)));
    const other = new LogBuilder(identitySecret(5), 2).rotate();
    expect(codeOf(() => acceptEpochKey(state, other.bytes))).toBe('identity_mismatch');
  });

  it('a cached state round-trips; a damaged one is refused', () => {
    const { state } = honest();
    const bytes = encodePins(state);
    expect(decodePins(bytes)).toEqual(state);
    expect(decodePins(encodePins(newPins()))).toEqual({});
    for (const bit of [0, 40, 8 * 60, 8 * (bytes.length - 1)]) {
      const damaged = bytes.slice();
      damaged[bit >> 3] ^= 1 << (bit & 7);
      expect(codeOf(() => decodePins(damaged)), `bit ${bit}`).toBeDefined();
    }
    expect(codeOf(() => newPins({ identityKey: new Uint8Array(31) }))).toBe('bad_field');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        expect(codeOf(() => decodePins(b))).toBeDefined();
      }),
    );
  });
});

/** Flips one bit of the signature (the last 64 bytes of the envelope). */
function forge(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  out[out.length - 10] ^= 4;
  return out;
}
