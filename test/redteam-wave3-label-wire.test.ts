/**
 * Red team (wave 3) on label format 2 (929ef2f): the SIV seal and the packed dir.labels
 * answer, attacked as a hostile server (forged, swapped, reframed, inflated answers) and as a
 * hostile client (the answer a key can cost the server). Pins behaviour that is right.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/protocol/errors.js';
import { packLabelAnswers, unpackLabelAnswers } from '../src/protocol/discovery/label-wire.js';
import { MAX_LABELS_PER_LOOKUP_KEY, openLabel, readVarint, sealLabel, writeVarint, SIV_BYTES } from '../src/protocol/discovery/labels.js';

const tag = fc.uint8Array({ minLength: 64, maxLength: 64 });
const userId = fc.string({ minLength: 0, maxLength: 40, unit: 'grapheme' });
const label = fc.uint8Array({ maxLength: 80 });
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return (err as ProtocolError).code;
  }
};

describe('the format 2 seal, against a server that swaps or reframes labels', () => {
  it('a seal of one tag never opens under another (another identifier, or the same identifier in another epoch)', () => {
    fc.assert(
      fc.property(tag, tag, userId, label, (a, b, u, l) => {
        fc.pre(Buffer.compare(a, b) !== 0);
        expect(codeOf(() => openLabel(b, sealLabel(a, { userId: u, label: l })))).toBe('bad_field');
      }),
      { numRuns: 300 },
    );
  });

  it('moving bytes between user id and label (same concatenation, other boundary) is refused: the length is under the IV', () => {
    fc.assert(
      fc.property(tag, fc.string({ minLength: 1, maxLength: 20, unit: 'binary-ascii' }), fc.uint8Array({ minLength: 1, maxLength: 20 }), (t, u, l) => {
        const sealed = sealLabel(t, { userId: u, label: l });
        // The server rewrites the length byte under the stream cipher (it knows the keystream
        // only if it knows the tag; here it flips the length bits blindly, as any forger must).
        for (const delta of [1, 2, 0x7f]) {
          const forged = sealed.slice();
          forged[SIV_BYTES] ^= delta;
          expect(codeOf(() => openLabel(t, forged))).toBe('bad_field');
        }
        expect(openLabel(t, sealed)).toEqual({ userId: u, label: l });
      }),
      { numRuns: 200 },
    );
  });

  it('the same label under the same tag seals to the same bytes, and any other label to other bytes (no relabel goes unseen)', () => {
    fc.assert(
      fc.property(tag, userId, label, label, (t, u, l1, l2) => {
        const s1 = sealLabel(t, { userId: u, label: l1 });
        expect(sealLabel(t, { userId: u, label: l1 })).toEqual(s1);
        if (Buffer.compare(l1, l2) !== 0) expect(Buffer.compare(sealLabel(t, { userId: u, label: l2 }), s1)).not.toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('varints of the label wire', () => {
  it('only the minimal encoding of a number is read; overlong and truncated ones are refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 35 - 1 }), fc.integer({ min: 1, max: 3 }), (n, pad) => {
        const out = new Uint8Array(8);
        const end = writeVarint(out, 0, n);
        expect(readVarint(out, 0, end, 5)).toEqual([n, end]);
        // Truncated: one byte short.
        if (end > 1) expect(readVarint(out, 0, end - 1, 5)).toBeUndefined();
        // Non-minimal: the same number with trailing 0x80 .. 0x00 continuation bytes.
        const long = out.slice(0, end + pad);
        long[end - 1] |= 0x80;
        for (let i = end; i < end + pad - 1; i++) long[i] = 0x80;
        long[end + pad - 1] = 0x00;
        expect(readVarint(long, 0, long.length, 8)).toBeUndefined();
      }),
    );
  });
});

describe('dir.labels answers from a hostile server', () => {
  it('random and mutated answers never crash the client parser: answers within the caps, or bad_field', () => {
    const lists = fc.array(fc.array(fc.uint8Array({ minLength: 1, maxLength: 30 }), { maxLength: 5 }), { maxLength: 10 });
    const valid = fc.tuple(lists, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([l, at, byte, mutate]) => {
      const p = packLabelAnswers(l, 4096);
      const labels = p.labels.slice();
      const more = p.more?.slice();
      const target = more && at % 2 === 0 ? more : labels;
      if (mutate && target.length > 0) target[at % target.length] = byte;
      return { labels, more, keys: l.length };
    });
    const random = fc.record({ labels: fc.uint8Array({ maxLength: 200 }), more: fc.option(fc.uint8Array({ maxLength: 200 }), { nil: undefined }), keys: fc.integer({ min: 0, max: 20 }) });
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.oneof(valid, random), ({ labels, more, keys }) => {
        let got: Uint8Array[][] | undefined;
        const code = codeOf(() => (got = unpackLabelAnswers(labels, more, keys)));
        if (code !== undefined) {
          expect(code).toBe('bad_field');
          refused++;
        } else {
          accepted++;
          expect(got!.length).toBe(keys);
          for (const list of got!) expect(list.length).toBeLessThanOrEqual(MAX_LABELS_PER_LOOKUP_KEY);
        }
      }),
      { numRuns: 3000 },
    );
    // Both outcomes are reached (the generator is not all noise).
    expect(accepted).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(300);
  });

  it('pack then unpack gives every kept candidate, at most MAX_LABELS_PER_LOOKUP_KEY per key, none over the item limit', () => {
    const candidates = fc.array(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 7 }), { maxLength: 12 });
    fc.assert(
      fc.property(candidates, fc.integer({ min: 1, max: 40 }), (lists, max) => {
        const packed = packLabelAnswers(lists, max);
        const back = unpackLabelAnswers(packed.labels, packed.more, lists.length);
        const kept = lists.map((l) => l.filter((s) => s.length > 0 && s.length <= max).slice(0, MAX_LABELS_PER_LOOKUP_KEY));
        expect(back.map((l) => l.map((s) => Buffer.from(s).toString('hex')))).toEqual(kept.map((l) => l.map((s) => Buffer.from(s).toString('hex'))));
        expect(packed.dropped).toBe(lists.flat().length - kept.flat().length);
      }),
      { numRuns: 500 },
    );
  });

  it('extras are refused when they name no key, go backwards, exceed the per-key cap, or come without a first answer', () => {
    const one = new Uint8Array([3, 1, 2, 3]); // key 0: one 3-byte answer
    const two = new Uint8Array([3, 1, 2, 3, 0]); // key 0 answered, key 1 empty
    const extra = (index: number) => new Uint8Array([index, 1, 9]);
    expect(unpackLabelAnswers(one, extra(0), 1)[0].length).toBe(2);
    expect(codeOf(() => unpackLabelAnswers(one, extra(1), 1))).toBe('bad_field'); // names no key
    expect(codeOf(() => unpackLabelAnswers(two, extra(1), 2))).toBe('bad_field'); // key 1 has no first answer
    const backwards = new Uint8Array([...extra(1), ...extra(0)]);
    const both = new Uint8Array([3, 1, 2, 3, 1, 7]);
    expect(codeOf(() => unpackLabelAnswers(both, backwards, 2))).toBe('bad_field');
    const tooMany = new Uint8Array(Array.from({ length: MAX_LABELS_PER_LOOKUP_KEY }, () => [...extra(0)]).flat());
    expect(codeOf(() => unpackLabelAnswers(one, tooMany, 1))).toBe('bad_field');
    // A zero-length extra would be a free "candidate": refused.
    expect(codeOf(() => unpackLabelAnswers(one, new Uint8Array([0, 0]), 1))).toBe('bad_field');
    // Non-minimal length of the first answer.
    expect(codeOf(() => unpackLabelAnswers(new Uint8Array([0x83, 0x00, 1, 2, 3]), undefined, 1))).toBe('bad_field');
  });
});
