/**
 * Precompute seals with Node's native crypto (src/directory/seal-native.ts); the discovery
 * protocol defines the seal with noble (protocol/discovery/labels.ts). Both must give the
 * same bytes for every tag, user id, label and nonce, and fail the same way.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NONCE_BYTES, sealLabels, sealLabelsWith, sealWithLookupKeys } from '../src/directory/seal.js';
import { lookupKeyOf, openLabel, sealLabel } from '../src/protocol/discovery/labels.js';

const entryArb = fc.record({
  // Tags are 64-byte OPRF outputs; other lengths exercise the scratch-buffer resizing.
  tag: fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ minLength: 1, maxLength: 100 })),
  // Any UTF-16 string, lone surrogates included: both sides encode with TextEncoder.
  userId: fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 })),
  label: fc.uint8Array({ maxLength: 300 }),
});

describe('sealLabelsWith', () => {
  it('gives sealLabel and lookupKeyOf bytes for every entry and nonce', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 12 }).chain((entries) =>
        fc.tuple(fc.constant(entries), fc.uint8Array({ minLength: NONCE_BYTES * entries.length, maxLength: NONCE_BYTES * entries.length })),
      ), ([entries, nonces]) => {
        const sealed = sealLabelsWith(entries, nonces);
        expect(sealed).toHaveLength(entries.length);
        entries.forEach((e, i) => {
          expect(sealed[i].sealed).toEqual(sealLabel(e.tag, e));
          expect(sealed[i].lookupKey).toEqual(lookupKeyOf(e.tag));
        });
      }),
      { numRuns: 200 },
    );
  });

  it('opens with openLabel to the same user id and label', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.string({ maxLength: 30 }), fc.uint8Array({ maxLength: 64 }), (tag, userId, label) => {
        const [{ sealed }] = sealWithLookupKeys([{ tag, userId, label }]);
        const opened = openLabel(tag, sealed);
        expect(opened.label).toEqual(label);
        expect(opened.userId).toBe(new TextDecoder().decode(new TextEncoder().encode(userId)));
      }),
    );
  });

  it('fails as sealLabel does on a user id longer than 65,535 bytes, and refuses a short nonce buffer', () => {
    const tag = new Uint8Array(64).fill(7);
    const entry = { tag, userId: 'x'.repeat(0x10000), label: new Uint8Array(0) };
    const nonce = new Uint8Array(NONCE_BYTES);
    let expected: unknown;
    try {
      sealLabel(tag, entry);
    } catch (err) {
      expected = err;
    }
    expect(expected).toBeDefined();
    expect(() => sealLabelsWith([entry], nonce)).toThrow(expected as Error);
    expect(() => sealLabelsWith([entry], nonce)).toThrow(expect.objectContaining({ code: (expected as { code: string }).code }));
    expect(() => sealLabelsWith([{ ...entry, userId: 'u' }], new Uint8Array(NONCE_BYTES - 1))).toThrow(RangeError);
  });
});

describe('sealLabels', () => {
  it('is deterministic (label format 2): one label seals to the same bytes; a relabel gets another IV; both open', () => {
    const tag = new Uint8Array(64).fill(3);
    const entry = { tag, userId: 'alice', label: new Uint8Array([1, 2, 3]) };
    const [a, b, c] = sealLabels([entry, entry, { ...entry, label: new Uint8Array([1, 2, 4]) }]);
    expect(Buffer.compare(a, b)).toBe(0);
    expect(Buffer.compare(a.subarray(0, 12), c.subarray(0, 12))).not.toBe(0);
    expect(openLabel(tag, a)).toEqual({ userId: 'alice', label: new Uint8Array([1, 2, 3]) });
    expect(openLabel(tag, c)).toEqual({ userId: 'alice', label: new Uint8Array([1, 2, 4]) });
  });
});
