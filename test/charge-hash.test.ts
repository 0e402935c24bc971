/**
 * The one-block charge hash (src/protocol/discovery/charge-hash.ts) is SHA-256(label ||
 * element) truncated, byte for byte, for every length: the one-block path (label + element
 * up to 55 bytes: the 32-byte ristretto255 elements) and the general path past it (P-256's
 * 33-byte elements with a long label, or long labels).
 */
import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { chargeHasher } from '../src/protocol/discovery/charge-hash.js';
import { chargeHash, chargeHashesHex, hexOf, CHARGE_HASH_BYTES } from '../src/protocol/discovery/quota.js';
import { ascii, concat } from '../src/oprf/encoding.js';

const reference = (label: Uint8Array, element: Uint8Array, outBytes: number): Uint8Array => sha256(concat(label, element)).subarray(0, outBytes);

describe('charge hash', () => {
  it('equals SHA-256(label || element) truncated, on both sides of the one-block bound (55 bytes)', () => {
    const lengths = fc.record({ label: fc.uint8Array({ minLength: 0, maxLength: 70, size: 'max' }), element: fc.uint8Array({ minLength: 0, maxLength: 40, size: 'max' }), out: fc.integer({ min: 1, max: 32 }) });
    // The generator reaches both paths (one block and general).
    const sample = fc.sample(lengths, { numRuns: 200, seed: 1 });
    expect(sample.some((s) => s.label.length + s.element.length <= 55)).toBe(true);
    expect(sample.some((s) => s.label.length + s.element.length > 55)).toBe(true);
    fc.assert(
      fc.property(lengths, ({ label, element, out }) => {
        const got = new Uint8Array(out + 3);
        chargeHasher(label, out).hashInto(element, got, 3);
        expect(got.subarray(3)).toEqual(reference(label, element, out));
      }),
      { numRuns: 300 },
    );
  });

  it('one hasher, many elements: the block it reuses carries nothing over from the element before', () => {
    const hasher = chargeHasher(ascii('contact-psi-v1-charge'), 8);
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 34 }), { minLength: 2, maxLength: 8 }), (elements) => {
        for (const e of elements) {
          const got = new Uint8Array(8);
          hasher.hashInto(e, got, 0);
          expect(got).toEqual(reference(ascii('contact-psi-v1-charge'), e, 8));
        }
      }),
    );
  });

  it("quota.ts's chargeHash and chargeHashesHex keep the wire format (8 bytes of SHA-256 under the charge label)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32 * 5, maxLength: 32 * 5 }), (packed) => {
        const hex = chargeHashesHex(packed, 32);
        expect(hex).toHaveLength(5);
        for (let i = 0; i < 5; i++) {
          const element = packed.subarray(32 * i, 32 * i + 32);
          const want = reference(ascii('contact-psi-v1-charge'), element, CHARGE_HASH_BYTES);
          expect(chargeHash(element)).toEqual(want);
          expect(hex[i]).toBe(Buffer.from(want).toString('hex'));
        }
      }),
    );
    expect(hexOf(Uint8Array.of(0, 1, 0xab, 0xff))).toBe('0001abff');
  });
});
