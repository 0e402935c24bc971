import { describe, expect, it } from 'vitest';
import { identityPublicKey, signStatement } from '../src/protocol/discovery/announcement.js';
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
});
