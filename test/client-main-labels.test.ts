/**
 * Label opening without a hash or cipher object per call (label-crypto.ts, sha2-blocks.ts;
 * issue 13 §1, the client's main thread): SHA-512 of a prefix and a tag, HMAC-SHA-256 and
 * ChaCha20 equal @noble's on any lengths (one block and more, the fallbacks), and sealLabel,
 * openLabel and the lookup keys give exactly what the @noble code gave (kept below as the
 * reference): the same sealed bytes, the same labels, the same failures.
 */
import { chacha20 as nobleChacha20 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/protocol/errors.js';
import { chacha20, hmacSha256, sha512Prefixed } from '../src/protocol/discovery/label-crypto.js';
import { LOOKUP_LABEL, lookupKeyOf, openLabel, readVarint, SEAL_KEY_LABEL, sealLabel, SIV_BYTES, wireLookupKeyOf, writeVarint, varintBytes, type Label } from '../src/protocol/discovery/labels.js';
import { ascii, concat } from '../src/oprf/encoding.js';

const bytes = (max: number) => fc.integer({ min: 0, max }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));

describe('label primitives = @noble', () => {
  it('the generators reach one block and more (SHA-512 111/112, HMAC 55/56 and 119/120, ChaCha20 64/65), keys over a block', () => {
    const lengths = fc.sample(bytes(300), { numRuns: 3000, seed: 11 }).map((b) => b.length);
    for (const n of [0, 55, 56, 64, 65, 111, 112, 119, 120, 200]) expect(lengths.some((l) => l <= n) && lengths.some((l) => l > n)).toBe(true);
    expect(lengths.filter((l) => l > 64 && l <= 100).length).toBeGreaterThan(10);
  });

  it('SHA-512 of a prefix and data', () => {
    fc.assert(
      fc.property(bytes(60), bytes(140), (prefix, data) => {
        expect(sha512Prefixed(prefix, data)).toEqual(sha512(concat(prefix, data)));
      }),
      { numRuns: 600 },
    );
    expect(sha512Prefixed(LOOKUP_LABEL, new Uint8Array(64).fill(1))).toEqual(sha512(concat(LOOKUP_LABEL, new Uint8Array(64).fill(1))));
  });

  it('HMAC-SHA-256', () => {
    fc.assert(
      fc.property(fc.oneof(bytes(32).map((k) => (k.length === 0 ? new Uint8Array(32) : k)), bytes(100)), bytes(300), (key, message) => {
        expect(hmacSha256(key, message)).toEqual(hmac(sha256, key, message));
      }),
      { numRuns: 600 },
    );
  });

  it('ChaCha20, counter 0, into a new array or a given one', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 12, maxLength: 12 }), bytes(300), fc.boolean(), (key, nonce, input, into) => {
        const expected = nobleChacha20(key, nonce, input);
        const out = into ? new Uint8Array(input.length) : undefined;
        const got = chacha20(key, nonce, input, out);
        expect(got).toEqual(expected);
        if (out) expect(got).toBe(out);
      }),
      { numRuns: 400 },
    );
  });
});

// --- The reference: labels.ts on @noble before this change. ---

const refSealKeys = (tag: Uint8Array) => sha512(concat(SEAL_KEY_LABEL, tag));
const refLookupKey = (tag: Uint8Array) => sha512(concat(LOOKUP_LABEL, tag)).subarray(0, 16);

function refSeal(tag: Uint8Array, entry: Label): Uint8Array {
  const userId = ascii(entry.userId);
  const plaintext = new Uint8Array(varintBytes(userId.length) + userId.length + entry.label.length);
  const at = writeVarint(plaintext, 0, userId.length);
  plaintext.set(userId, at);
  plaintext.set(entry.label, at + userId.length);
  const keys = refSealKeys(tag);
  const siv = hmac(sha256, keys.subarray(32, 64), plaintext).subarray(0, SIV_BYTES);
  const sealed = new Uint8Array(SIV_BYTES + plaintext.length);
  sealed.set(siv);
  nobleChacha20(keys.subarray(0, 32), siv, plaintext, sealed.subarray(SIV_BYTES));
  return sealed;
}

function refOpen(tag: Uint8Array, sealed: Uint8Array): Label {
  if (sealed.length < SIV_BYTES + 1) throw new ProtocolError('bad_field', 'sealed label too short');
  const keys = refSealKeys(tag);
  const siv = sealed.subarray(0, SIV_BYTES);
  const plaintext = nobleChacha20(keys.subarray(0, 32), siv, sealed.subarray(SIV_BYTES));
  const expected = hmac(sha256, keys.subarray(32, 64), plaintext);
  let diff = 0;
  for (let i = 0; i < SIV_BYTES; i++) diff |= expected[i] ^ siv[i];
  if (diff !== 0) throw new ProtocolError('bad_field', 'sealed label does not open under this identifier');
  const length = readVarint(plaintext, 0, plaintext.length, 3);
  if (length === undefined || length[0] > 0xffff || length[1] + length[0] > plaintext.length) throw new ProtocolError('bad_field', 'sealed label is malformed');
  const [n, at] = length;
  let userId: string;
  try {
    userId = new TextDecoder('utf-8', { fatal: true }).decode(plaintext.subarray(at, at + n));
  } catch {
    throw new ProtocolError('bad_field', 'sealed label user id is not UTF-8');
  }
  return { userId, label: plaintext.slice(at + n) };
}

const outcome = (fn: () => unknown) => {
  try {
    return { ok: fn() };
  } catch (err) {
    return { error: (err as ProtocolError).code, message: (err as Error).message };
  }
};

const tag = fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), bytes(120));
const label = fc.record({ userId: fc.oneof(fc.stringMatching(/^u[0-9]{1,9}$/), fc.string({ maxLength: 150 })), label: bytes(300) });

describe('labels = the @noble code', () => {
  it('seal, open and lookup keys: the same bytes; any sealed input (flipped, cut, another tag): the same label or failure', () => {
    fc.assert(
      fc.property(tag, tag, label, fc.nat(400), fc.integer({ min: 0, max: 255 }), fc.constantFrom('honest', 'flip', 'cut', 'other', 'random'), (t, other, entry, at, x, how) => {
        const sealed = sealLabel(t, entry);
        expect(sealed).toEqual(refSeal(t, entry));
        expect(lookupKeyOf(t)).toEqual(refLookupKey(t));
        expect(wireLookupKeyOf(t)).toEqual(refLookupKey(t).slice(0, 8));
        let input = sealed;
        if (how === 'flip') (input = sealed.slice())[at % sealed.length] ^= x | 1;
        if (how === 'cut') input = sealed.subarray(0, at % (sealed.length + 1));
        if (how === 'random') input = new Uint8Array(at % 40).fill(x);
        const openWith = how === 'other' ? other : t;
        expect(outcome(() => openLabel(openWith, input))).toEqual(outcome(() => refOpen(openWith, input)));
      }),
      { numRuns: 500 },
    );
  });

  it('the generator of authentic plaintexts reaches every outcome: a label, a bad length, a user id that is not UTF-8', () => {
    const seen = new Set<string>();
    for (const p of fc.sample(bytes(12), { numRuns: 500, seed: 2 })) {
      const keys = refSealKeys(new Uint8Array(64));
      const siv = hmac(sha256, keys.subarray(32, 64), p).subarray(0, SIV_BYTES);
      const r = outcome(() => refOpen(new Uint8Array(64), concat(siv, nobleChacha20(keys.subarray(0, 32), siv, p)))) as { ok?: unknown; message?: string };
      seen.add(r.ok ? 'ok' : r.message!);
    }
    expect(seen).toEqual(new Set(['ok', 'sealed label too short', 'sealed label is malformed', 'sealed label user id is not UTF-8']));
  });

  it('malformed but authentic plaintexts (a directory sealing bad lengths or bad UTF-8) fail as before', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), bytes(12), (t, plaintext) => {
        // Seal an arbitrary plaintext the reference way: authentic, whatever its varint and text.
        const keys = refSealKeys(t);
        const siv = hmac(sha256, keys.subarray(32, 64), plaintext).subarray(0, SIV_BYTES);
        const sealed = concat(siv, nobleChacha20(keys.subarray(0, 32), siv, plaintext));
        expect(outcome(() => openLabel(t, sealed))).toEqual(outcome(() => refOpen(t, sealed)));
      }),
      { numRuns: 500 },
    );
  });
});
