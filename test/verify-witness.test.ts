import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { identityPublicKey, signStatement } from '../src/protocol/discovery/announcement.js';
import { commitPrefixes, verifyDelta } from '../src/protocol/discovery/commitment.js';
import { acceptAnnouncement, acceptEpochKey, newPins } from '../src/protocol/discovery/identity-pins.js';
import { VerifiabilityError } from '../src/protocol/discovery/verify-error.js';
import { compareWithWitnesses } from '../src/protocol/discovery/witness.js';
import { codeOf, identitySecret, LogBuilder } from './helpers/verify-log.js';

const secret = identitySecret(1);
const identity = identityPublicKey(secret);

/** A public log of 1 key + 5 announcements; the client got version 3 (entry 3). */
function setup() {
  const log = new LogBuilder(secret, 11);
  log.rotate();
  const v = [1, 2, 3, 4, 5].map(() => log.announce());
  return { log, own: v[2], v };
}

describe('witness comparison', () => {
  it('confirmed at the same version; behind when older; ahead is fine only with our entry', () => {
    const { own, v } = setup();
    const result = compareWithWitnesses(own, identity, [
      { name: 'same', announcements: [own.bytes] },
      { name: 'behind', announcements: [v[1].bytes] },
      { name: 'ahead-with-ours', announcements: [v[4].bytes, own.bytes] },
    ]);
    expect(result).toEqual({ confirmed: ['same', 'ahead-with-ours'], behind: ['behind'] });
  });

  it('another commitment for our (epoch, version) is split_view, naming the witness, with both envelopes', () => {
    const { own } = setup();
    const other = signStatement({ ...own.statement, commitment: new Uint8Array(32).fill(7) }, secret).bytes;
    try {
      compareWithWitnesses(own, identity, [{ name: 'ok', announcements: [own.bytes] }, { name: 'w2', announcements: [other] }]);
      expect.unreachable();
    } catch (err) {
      expect((err as VerifiabilityError).code).toBe('split_view');
      expect((err as VerifiabilityError).witness).toBe('w2');
      expect((err as VerifiabilityError).evidence).toEqual([own.bytes, other]);
    }
  });

  it('a witness ahead without our version means it was never published: split_view', () => {
    const { own, v } = setup();
    expect(codeOf(() => compareWithWitnesses(own, identity, [{ name: 'w', announcements: [v[4].bytes] }]))).toBe('split_view');
  });

  it('a private version shown to one client (another log) is caught by an honest witness', () => {
    const { v } = setup();
    const privateLog = new LogBuilder(secret, 99);
    privateLog.rotate();
    privateLog.announce();
    privateLog.announce();
    const privateV3 = privateLog.announce(); // same (epoch, version) as v[2], other commitment and history
    expect(codeOf(() => compareWithWitnesses(privateV3, identity, [{ name: 'w', announcements: [v[4].bytes, v[2].bytes] }]))).toBe('split_view');
    // Also at the same log position with another (epoch, version): a forked log.
    const forked = signStatement({ ...v[2].statement, version: 30 }, secret);
    expect(codeOf(() => compareWithWitnesses(forked, identity, [{ name: 'w', announcements: [v[2].bytes] }]))).toBe('split_view');
    // The next entry that does not chain to ours.
    const unchained = signStatement({ ...v[3].statement, prev: new Uint8Array(32) }, secret);
    expect(codeOf(() => compareWithWitnesses(v[2], identity, [{ name: 'w', announcements: [unchained.bytes, v[2].bytes] }]))).toBe('split_view');
    expect(compareWithWitnesses(v[2], identity, [{ name: 'w', announcements: [v[3].bytes, v[2].bytes] }]).confirmed).toEqual(['w']);
    // A newer version at an older log position.
    const misplaced = signStatement({ ...v[2].statement, version: 40, seq: 1 }, secret);
    expect(codeOf(() => compareWithWitnesses(misplaced, identity, [{ name: 'w', announcements: [v[1].bytes] }]))).toBe('split_view');
  });

  it('witness answers that do not verify are refused with their code, naming the witness', () => {
    const { own, v, log } = setup();
    const forged = v[4].bytes.slice();
    forged[forged.length - 1] ^= 1;
    const foreign = signStatement(v[4].statement, identitySecret(2)).bytes;
    expect(codeOf(() => compareWithWitnesses(own, identity, [{ name: 'w', announcements: [forged] }]))).toBe('bad_signature');
    expect(codeOf(() => compareWithWitnesses(own, identity, [{ name: 'w', announcements: [foreign] }]))).toBe('identity_mismatch');
    expect(codeOf(() => compareWithWitnesses(own, identity, [{ name: 'w', announcements: [log.entries[0].bytes] }]))).toBe('bad_field');
    expect(codeOf(() => compareWithWitnesses(own, identity, [{ name: 'w', announcements: [] }]))).toBe('bad_field');
    expect(codeOf(() => compareWithWitnesses(own, identity, [{ name: 'w', announcements: Array(17).fill(own.bytes) }]))).toBe('too_large');
    expect(compareWithWitnesses(own, identity, [{ name: 'w', announcements: Array(16).fill(own.bytes) }]).confirmed).toEqual(['w']);
    try {
      compareWithWitnesses(own, identity, [{ name: 'https://w.example', announcements: [forged] }]);
    } catch (err) {
      expect((err as VerifiabilityError).witness).toBe('https://w.example');
    }
  });
  it('generated: a witness confirms when at or ahead of the client (holding the whole log), is behind otherwise', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.nat(), fc.nat(), (n, i, j) => {
        const log = new LogBuilder(secret, 13);
        log.rotate();
        const v = Array.from({ length: n }, () => log.announce());
        const own = v[i % n];
        const theirs = v[j % n];
        const answer = { name: 'w', announcements: theirs === own ? [own.bytes] : [theirs.bytes, ...(j % n > i % n ? [own.bytes] : [])] };
        const result = compareWithWitnesses(own, identity, [answer]);
        expect(result).toEqual(j % n >= i % n ? { confirmed: ['w'], behind: [] } : { confirmed: [], behind: ['w'] });
      }),
      { numRuns: 25 },
    );
  });

  it('issue 10 §1 end to end: a private version planting T for one client passes pins and delta check, and a witness catches it', () => {
    const hexes = (list: string[]) => new Uint8Array(Buffer.from(list.join(''), 'hex'));
    const real = ['1000000000000001', '2000000000000002', '3000000000000003'];
    const planted = '7777777777777777'; // the prefix of F(k, T) for the number T under test
    const c1 = commitPrefixes(hexes(real));
    // The public log: v1 = real, v2 = real + one new user.
    const pub = new LogBuilder(secret, 21);
    const key = pub.rotate();
    const v1 = pub.announce(1, { count: c1.count, commitment: c1.digest });
    const c2 = commitPrefixes(hexes([...real, '4000000000000004']));
    const v2 = pub.announce(1, { count: c2.count, commitment: c2.digest });
    // The server signs, for one client only, a v2 that plants T and hides a real user.
    const lieSet = [real[0], real[2], planted];
    const cLie = commitPrefixes(hexes(lieSet));
    const privateV2 = signStatement({ ...v2.statement, count: cLie.count, commitment: cLie.digest }, secret);
    // An unsigned lie (honest commitment, lying delta) is refused by the delta check alone.
    expect(codeOf(() => verifyDelta(c1, hexes([planted]), hexes([real[1]]), c2))).toBe('split_view');
    // The signed lie passes the client's own checks (it is consistent) ...
    let state = acceptEpochKey(newPins({ identityKey: identity }), key.bytes);
    state = acceptAnnouncement(state, v1.bytes);
    state = acceptAnnouncement(state, privateV2.bytes);
    expect(verifyDelta(c1, hexes([planted]), hexes([real[1]]), cLie).count).toBe(3);
    // ... and an honest witness at v2 shows the directory signed two views of one version.
    try {
      compareWithWitnesses(privateV2, identity, [{ name: 'witness', announcements: [v2.bytes] }]);
      expect.unreachable();
    } catch (err) {
      expect((err as VerifiabilityError).code).toBe('split_view');
      expect((err as VerifiabilityError).evidence).toEqual([privateV2.bytes, v2.bytes]);
    }
  });
});
