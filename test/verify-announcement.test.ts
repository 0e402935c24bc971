import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeStatement,
  encodeStatement,
  identityPublicKey,
  openAnnouncement,
  openEpochKeyStatement,
  openSigned,
  signStatement,
  type Announcement,
  type EpochKeyStatement,
  type LogStatement,
} from '../src/protocol/discovery/announcement.js';
import { codeOf, identitySecret } from './helpers/verify-log.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u53 = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const epochKey: fc.Arbitrary<EpochKeyStatement> = fc
  .record({
    seq: u53,
    prev: bytes(32),
    suite: fc.constantFrom('ristretto255-SHA512' as const, 'P256-SHA256' as const),
    epoch: fc.nat({ max: 0xffffffff }),
    validFrom: fc.option(u53, { nil: undefined }),
    key: bytes(33),
  })
  .map(({ key, suite, validFrom, ...r }) => ({
    kind: 'epoch-key' as const,
    ...r,
    suite,
    publicKey: key.subarray(0, suite === 'P256-SHA256' ? 33 : 32),
    ...(validFrom === undefined ? {} : { validFrom }),
  }));
const announcement: fc.Arbitrary<Announcement> = fc.record({
  kind: fc.constant('announcement' as const),
  seq: u53,
  prev: bytes(32),
  epoch: fc.nat({ max: 0xffffffff }),
  version: u53,
  count: u53,
  commitment: bytes(32),
  encoding: fc.constantFrom('raw' as const, 'gcs' as const, 'bloom' as const, 'fuse' as const),
  snapshotDigest: bytes(32),
});
const statement: fc.Arbitrary<LogStatement> = fc.oneof(epochKey, announcement);

describe('signed statements', () => {
  const secret = identitySecret(1);
  const identity = identityPublicKey(secret);

  it('decode(encode(s)) = s for both kinds (with and without validFrom)', () => {
    expect(fc.sample(epochKey, { numRuns: 100, seed: 2 }).some((s) => s.validFrom === undefined)).toBe(true);
    fc.assert(
      fc.property(statement, (s) => {
        expect(decodeStatement(encodeStatement(s))).toEqual(s);
      }),
    );
  });

  it('sign then open round-trips, under the pin and without one', () => {
    fc.assert(
      fc.property(statement, (s) => {
        const signed = signStatement(s, secret);
        expect(openSigned(signed.bytes, { identityKey: identity }).statement).toEqual(s);
        expect(openSigned(signed.bytes).identityKey).toEqual(identity);
      }),
      { numRuns: 40 },
    );
  });

  it('every single-bit flip of a signed statement is refused', () => {
    // One of each kind: every bit of the envelope (body, key, signature) is tried.
    const samples = [fc.sample(epochKey, { numRuns: 1, seed: 9 })[0], fc.sample(announcement, { numRuns: 1, seed: 9 })[0]];
    for (const s of samples) {
      const signed = signStatement(s, secret).bytes;
      const keyField = signed.length - 64 - 4 - 32; // offset of the identity key in the envelope
      for (let bit = 0; bit < signed.length * 8; bit++) {
        const flipped = signed.slice();
        flipped[bit >> 3] ^= 1 << (bit & 7);
        const code = codeOf(() => openSigned(flipped, { identityKey: identity }));
        expect(code, `bit ${bit}`).toBeDefined();
        expect(['malformed', 'too_large', 'bad_signature', 'identity_mismatch', 'bad_field', 'unsupported']).toContain(code);
        // Without a pin, a flip in the key field is a signature that does not verify.
        if (bit >> 3 >= keyField && bit >> 3 < keyField + 32) expect(codeOf(() => openSigned(flipped)), `bit ${bit}`).toBe('bad_signature');
      }
    }
  });

  it('a statement signed by another identity is identity_mismatch; the kinds are not interchangeable', () => {
    const [k] = fc.sample(epochKey, { numRuns: 1, seed: 3 });
    const [a] = fc.sample(announcement, { numRuns: 1, seed: 3 });
    const other = signStatement(k, identitySecret(2));
    expect(codeOf(() => openSigned(other.bytes, { identityKey: identity }))).toBe('identity_mismatch');
    expect(codeOf(() => openAnnouncement(signStatement(k, secret).bytes))).toBe('bad_field');
    expect(codeOf(() => openEpochKeyStatement(signStatement(a, secret).bytes))).toBe('bad_field');
  });

  it('random bytes never crash the parser: they are refused with a code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        expect(codeOf(() => openSigned(b))).toBeDefined();
        expect(codeOf(() => decodeStatement(b))).toBeDefined();
      }),
    );
  });

  it('refuses out-of-range fields when encoding', () => {
    const [a] = fc.sample(announcement, { numRuns: 1, seed: 4 });
    expect(codeOf(() => encodeStatement({ ...a, epoch: 2 ** 32 }))).toBe('bad_field');
    expect(codeOf(() => encodeStatement({ ...a, version: -1 }))).toBe('bad_field');
    expect(codeOf(() => encodeStatement({ ...a, commitment: new Uint8Array(31) }))).toBe('bad_field');
    expect(codeOf(() => encodeStatement({ ...a, encoding: 'xml' as never }))).toBe('unsupported');
    expect(codeOf(() => signStatement(a, new Uint8Array(31)))).toBe('bad_field');
  });
  it('a field of 4,096 bytes is read, one of 4,097 is too_large before anything else', () => {
    const envelope = (bodyLength: number) => {
      const out = new Uint8Array(4 + bodyLength + 4 + 32 + 4 + 64);
      const view = new DataView(out.buffer);
      view.setUint32(0, bodyLength);
      view.setUint32(4 + bodyLength, 32);
      view.setUint32(4 + bodyLength + 36, 64);
      return out;
    };
    expect(codeOf(() => openSigned(envelope(4096)))).toBe('bad_signature');
    expect(codeOf(() => openSigned(envelope(4097)))).toBe('too_large');
  });
});
