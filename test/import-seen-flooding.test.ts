/**
 * Red team (wave 3): the import's duplicate check (import-seen.ts) fingerprinted with a
 * public, fixed-seed 32-bit MurmurHash3 variant. Strings sharing a fingerprint were cheap to
 * make (meet in the middle: every step is a bijection of the 32-bit state), and each one
 * found cost a stage lookup for every earlier one: m crafted identifiers cost m(m-1)/2
 * queries (400 -> 79,800). The table is now keyed with a random key per table: the crafted
 * set below (which collides under the old public hash, checked) costs what random strings do.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeenTable } from '../src/directory/import-seen.js';
import { normalizeEmail } from '../src/contacts/email.js';
import { toIdentifier } from '../src/contacts/identifier.js';

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) | 0;
const rotr = (x: number, r: number) => ((x >>> r) | (x << (32 - r))) | 0;
const kOf = (c: number) => Math.imul(rotl(Math.imul(c, C1), 15), C2);
const step = (h: number, c: number) => (Math.imul(rotl(h ^ kOf(c), 13), 5) + 0xe6546b64) | 0;
const INV5 = 0xcccccccd | 0;
const unstep = (h: number, c: number) => rotr(Math.imul((h - 0xe6546b64) | 0, INV5), 13) ^ kOf(c);
const run = (h: number, s: string) => {
  for (let i = 0; i < s.length; i++) h = step(h, s.charCodeAt(i));
  return h;
};
const ALPHA = 'abcdefghijklmnopqrstuvwxyz0123456789';
const triples: string[] = [];
for (const a of ALPHA) for (const b of ALPHA) for (const c of ALPHA) triples.push(a + b + c);

/** `count` distinct e-mail identifiers (`mailto:` + a normalized address, what checkRow looks up) with one fingerprint. */
function collidingEmails(count: number): string[] {
  const seed = 0x5bd1e995; // SEED.identifier
  const suffix = '@example.org';
  const target = 0x12345678; // the state before the suffix, the same for all
  const back = new Map<number, string>();
  for (const t of triples) back.set([...t].reverse().reduce((h, ch) => unstep(h, ch.charCodeAt(0)), target), t);
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const prefix = `mailto:x${i.toString(36).padStart(6, '0')}`;
    const h0 = run(seed, prefix);
    for (const t of triples) {
      const tail = back.get(run(h0, t));
      if (tail !== undefined) {
        out.push(prefix + t + tail + suffix);
        break;
      }
    }
  }
  return out;
}

/** The fingerprint import-seen.ts used before (public seed): what the crafted set targets. */
function oldFingerprint(s: string): number {
  let h = run(0x5bd1e995, s) ^ s.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

describe('import duplicate check vs crafted fingerprint collisions', () => {
  it('finding m distinct identifiers asks the stage O(m) times, not m(m-1)/2', () => {
    const m = 400;
    const emails = collidingEmails(m);
    // The crafted addresses are valid and their own normal form.
    for (const e of emails.slice(0, 5)) {
      const address = e.slice('mailto:'.length);
      expect(normalizeEmail(address)).toEqual({ ok: true, email: address });
      expect(toIdentifier('mailto', address)).toBe(e);
    }
    expect(new Set(emails).size).toBe(m);
    // They do collide under the old public hash (MurmurHash3 body and finalizer, fixed seed).
    expect(new Set(emails.map(oldFingerprint)).size).toBe(1);
    const seen = new SeenTable();
    let confirms = 0;
    emails.forEach((e, i) => {
      expect(seen.find('identifier', e, () => (confirms++, false))).toBeUndefined();
      seen.add('identifier', e, i + 1);
    });
    console.log('confirm lookups', confirms, 'for', m, 'identifiers');
    expect(confirms).toBeLessThanOrEqual(4 * m);
  });

  it('any distinct values: each found exactly at its row, misses confirm (almost) never', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 40 }), { minLength: 1, maxLength: 300 }), (values) => {
        const seen = new SeenTable();
        let confirms = 0;
        values.forEach((v, i) => {
          expect(seen.find('identifier', v, () => (confirms++, false))).toBeUndefined();
          seen.add('identifier', v, i + 1);
        });
        values.forEach((v, i) => expect(seen.find('identifier', v, (row) => row === i + 1)).toBe(i + 1));
        // A user id equal to an identifier is another list: not found.
        expect(seen.find('user', values[0]!, () => true)).toBeUndefined();
        expect(confirms).toBeLessThanOrEqual(2);
      }),
      { numRuns: 200 },
    );
  });
});
