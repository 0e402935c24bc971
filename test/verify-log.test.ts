import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { identityPublicKey, signStatement } from '../src/protocol/discovery/announcement.js';
import { appendEntry, emptyLog, verifyLog } from '../src/protocol/discovery/announcement-log.js';
import { codeOf, identitySecret, LogBuilder } from './helpers/verify-log.js';

const secret = identitySecret(1);
const identity = identityPublicKey(secret);

/** An honest log: rotations and announcements with random gaps (at least 2 entries). */
const logOf = fc
  .array(fc.record({ rotate: fc.boolean(), gap: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 10 })
  .map((steps) => {
    const log = new LogBuilder(secret, 3);
    log.rotate();
    for (const s of steps) {
      if (s.rotate) log.rotate(s.gap);
      else log.announce(s.gap);
    }
    return log.bytes;
  });

type Tamper = { kind: 'drop' | 'duplicate' | 'swap'; at: number };
const tamper: fc.Arbitrary<Tamper> = fc.record({ kind: fc.constantFrom('drop' as const, 'duplicate' as const, 'swap' as const), at: fc.nat() });

function apply(entries: Uint8Array[], t: Tamper): Uint8Array[] {
  const out = [...entries];
  const i = t.at % out.length;
  if (t.kind === 'drop') out.splice(i, 1);
  else if (t.kind === 'duplicate') out.splice(i, 0, out[i]);
  else {
    const j = i === out.length - 1 ? i - 1 : i + 1;
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('announcement log verifier', () => {
  it('accepts every honest log, ending at its last entry', () => {
    fc.assert(
      fc.property(logOf, (entries) => {
        const cursor = verifyLog(entries, { identityKey: identity });
        expect(cursor.length).toBe(entries.length);
        expect(verifyLog(entries).identityKey).toEqual(identity);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses a dropped (not the last), duplicated or reordered entry with bad_log', () => {
    fc.assert(
      fc.property(logOf, tamper, (entries, t) => {
        const tampered = apply(entries, t);
        // Dropping the last entry leaves a shorter honest log: that is what a verifier of an
        // older copy sees (a witness compares heads to catch it), not a broken log.
        if (t.kind === 'drop' && t.at % entries.length === entries.length - 1) {
          expect(verifyLog(tampered).length).toBe(entries.length - 1);
          return;
        }
        expect(codeOf(() => verifyLog(tampered, { identityKey: identity }))).toBe('bad_log');
      }),
      { numRuns: 60 },
    );
  });

  it('refuses structurally wrong logs that chain correctly', () => {
    const log = new LogBuilder(secret, 4);
    // An announcement first.
    const first = signStatement({ kind: 'announcement', seq: 0, prev: new Uint8Array(32), epoch: 1, version: 1, count: 0, commitment: new Uint8Array(32), encoding: 'raw', snapshotDigest: new Uint8Array(32) }, secret);
    expect(codeOf(() => verifyLog([first.bytes]))).toBe('bad_log');
    // A rotation to a lower epoch, a repeated version, an announcement of an old epoch.
    log.rotate(3);
    log.announce();
    const cursor = verifyLog(log.bytes);
    const pos = { seq: cursor.length, prev: cursor.headHash };
    const k = log.entries[0].statement;
    const a = log.entries[1].statement;
    if (k.kind !== 'epoch-key' || a.kind !== 'announcement') throw new Error('fixture');
    expect(codeOf(() => appendEntry(cursor, signStatement({ ...k, ...pos, epoch: 2 }, secret).bytes))).toBe('bad_log');
    expect(codeOf(() => appendEntry(cursor, signStatement({ ...k, ...pos }, secret).bytes))).toBe('bad_log');
    expect(codeOf(() => appendEntry(cursor, signStatement({ ...a, ...pos }, secret).bytes))).toBe('bad_log');
    expect(codeOf(() => appendEntry(cursor, signStatement({ ...a, ...pos, epoch: 2 }, secret).bytes))).toBe('bad_log');
    expect(appendEntry(cursor, signStatement({ ...a, ...pos, version: 2 }, secret).bytes).length).toBe(3);
    // Another signer, a bad signature.
    expect(codeOf(() => appendEntry(cursor, signStatement({ ...a, ...pos, version: 2 }, identitySecret(2)).bytes))).toBe('identity_mismatch');
    const forged = signStatement({ ...a, ...pos, version: 2 }, secret).bytes;
    forged[forged.length - 3] ^= 1;
    expect(codeOf(() => appendEntry(cursor, forged))).toBe('bad_signature');
    expect(codeOf(() => appendEntry(emptyLog(identity), new Uint8Array(5)))).toBe('malformed');
  });

  it('maxEntries: at the limit accepted, one past refused with too_large', () => {
    const log = new LogBuilder(secret, 5);
    log.rotate();
    log.announce();
    log.announce();
    expect(verifyLog(log.bytes, { maxEntries: 3 }).length).toBe(3);
    expect(codeOf(() => verifyLog(log.bytes, { maxEntries: 2 }))).toBe('too_large');
  });
});
