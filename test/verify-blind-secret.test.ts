import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blindSecretFor, deriveBlindSecret, MAX_ACCOUNT_BYTES } from '../src/protocol/discovery/blind-secret.js';
import { codeOf } from './helpers/verify-log.js';

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Hamming distance in bits. */
const distance = (a: Uint8Array, b: Uint8Array) => a.reduce((n, x, i) => n + popcount(x ^ b[i]), 0);
const popcount = (x: number) => x.toString(2).replaceAll('0', '').length;

describe('blind secret per (identity key, account)', () => {
  it('is deterministic', () => {
    fc.assert(
      fc.property(bytes32, bytes32, fc.string(), (d, k, a) => {
        expect(hex(deriveBlindSecret(d, k, a))).toBe(hex(deriveBlindSecret(d, k, a)));
      }),
    );
  });

  it('two accounts, two identity keys or two devices give unrelated secrets', () => {
    fc.assert(
      fc.property(bytes32, bytes32, bytes32, fc.string(), fc.string(), (device, k1, k2, a1, a2) => {
        const base = deriveBlindSecret(device, k1, a1);
        const others: Uint8Array[] = [];
        if (a1 !== a2) others.push(deriveBlindSecret(device, k1, a2));
        if (hex(k1) !== hex(k2)) others.push(deriveBlindSecret(device, k2, a1));
        others.push(deriveBlindSecret(device.map((b, i) => (i === 0 ? b ^ 1 : b)), k1, a1));
        for (const o of others) {
          // Unrelated: about half the 256 bits differ (a correlated derivation would sit far from 128).
          const d = distance(base, o);
          expect(d).toBeGreaterThan(64);
          expect(d).toBeLessThan(192);
        }
      }),
    );
  });

  it('field boundaries are encoded: (key, "ab") and a shifted split never collide', () => {
    // The account is length-prefixed after the fixed-length key, so no re-split gives the same info.
    const d = new Uint8Array(32).fill(1);
    const k = new Uint8Array(32).fill(2);
    expect(hex(deriveBlindSecret(d, k, 'ab'))).not.toBe(hex(deriveBlindSecret(d, k, 'a')));
    expect(hex(deriveBlindSecret(d, k, ''))).not.toBe(hex(deriveBlindSecret(d, k, '\0')));
  });

  it('random blinds where no quota applies; derived where one does', () => {
    const choice = { deviceSecret: new Uint8Array(32), identityKey: new Uint8Array(32).fill(3), account: 'alice' };
    expect(blindSecretFor({ ...choice, quotaApplies: false })).toBeUndefined();
    expect(blindSecretFor({ ...choice, quotaApplies: true })).toEqual(deriveBlindSecret(choice.deviceSecret, choice.identityKey, 'alice'));
  });

  it('refuses wrong sizes, and an account one byte past the limit', () => {
    const d = new Uint8Array(32);
    expect(codeOf(() => deriveBlindSecret(new Uint8Array(31), d, 'a'))).toBe('bad_field');
    expect(codeOf(() => deriveBlindSecret(d, new Uint8Array(33), 'a'))).toBe('bad_field');
    expect(deriveBlindSecret(d, d, 'x'.repeat(MAX_ACCOUNT_BYTES)).length).toBe(32);
    expect(codeOf(() => deriveBlindSecret(d, d, 'x'.repeat(MAX_ACCOUNT_BYTES + 1)))).toBe('too_large');
  });
});
