/**
 * The file cache keys its OPRF outputs with Node's native HMAC (output-cache.ts, for the
 * start-up of a re-sync); every other SyncCache uses output-keys.ts (noble). One device
 * secret must find the same entries in both: the two functions agree byte for byte, on any
 * key and any identifier, lone surrogates included (both encode them as U+FFFD in UTF-8).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entryKey } from '../src/client/output-cache.js';
import { OUTPUT_ENTRY_KEY_BYTES, outputEntryKey } from '../src/client/output-keys.js';

const identifier = fc.oneof(
  // Any UTF-16 code units: lone surrogates too.
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.stringMatching(/^\+[1-9][0-9]{6,14}$/),
);

describe('output entry keys: native (file cache) = noble (every SyncCache)', () => {
  it('the generators reach lone surrogates, non-ASCII text and E.164 numbers', () => {
    const sample = fc.sample(identifier, { numRuns: 2000, seed: 7 });
    expect(sample.some((s) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s))).toBe(true);
    expect(sample.some((s) => /[^\x00-\x7F]/.test(s))).toBe(true);
    expect(sample.some((s) => /^\+[0-9]+$/.test(s))).toBe(true);
  });

  it('agree on every key and identifier, and are 16 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), identifier, (key, id) => {
        const native = entryKey(key, id);
        expect(native.length).toBe(OUTPUT_ENTRY_KEY_BYTES);
        expect(native).toEqual(outputEntryKey(key, id));
      }),
      { numRuns: 500 },
    );
  });
});
