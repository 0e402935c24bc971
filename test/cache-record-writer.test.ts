/**
 * The cache files' RecordWriter writes into one growing buffer (it kept an array per field);
 * the bytes must stay exactly the format every existing cache file is in (cache-record.ts
 * header), whatever the fields and however often the buffer grows. The reference below is
 * the format written out field by field.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CacheFileError, openRecord, RecordReader, RecordWriter } from '../src/client/cache-record.js';

type Field = { t: 'u8'; v: number } | { t: 'uint'; v: number } | { t: 'bytes'; v: Uint8Array } | { t: 'text'; v: string };

function reference(fields: readonly Field[], kind: string): Buffer {
  const parts: Buffer[] = [];
  const u64 = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(v));
    return b;
  };
  for (const f of fields) {
    if (f.t === 'u8') parts.push(Buffer.from([f.v]));
    if (f.t === 'uint') parts.push(u64(f.v));
    if (f.t === 'bytes') parts.push(u64(f.v.length), Buffer.from(f.v));
    if (f.t === 'text') {
      const b = Buffer.from(new TextEncoder().encode(f.v));
      parts.push(u64(b.length), b);
    }
  }
  const payload = Buffer.concat(parts);
  const header = Buffer.concat([Buffer.from('CPSI'), Buffer.from([kind.charCodeAt(0), 1, 0, 0]), u64(payload.length)]);
  return Buffer.concat([header, payload, createHash('sha256').update(header).update(payload).digest()]);
}

const field: fc.Arbitrary<Field> = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((v) => ({ t: 'u8' as const, v })),
  fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.maxSafeNat()).map((v) => ({ t: 'uint' as const, v })),
  fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 500, maxLength: 3000 })).map((v) => ({ t: 'bytes' as const, v })),
  fc.string({ unit: 'grapheme', maxLength: 50 }).map((v) => ({ t: 'text' as const, v })),
  // Any UTF-16 code units (lone surrogates: U+FFFD, 3 bytes), and text longer than the buffer.
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 30 }).map((v) => ({ t: 'text' as const, v })),
  fc.string({ unit: 'grapheme', minLength: 400, maxLength: 900 }).map((v) => ({ t: 'text' as const, v })),
);

describe('cache record writer', () => {
  it('any fields: the same bytes as the format written field by field (buffer growth included)', () => {
    const fields = fc.array(field, { maxLength: 40 });
    // Reaches payloads past the initial 1 KiB buffer (growth) and integers above 2^32.
    const sample = fc.sample(fields, { numRuns: 100, seed: 3 });
    expect(sample.some((fs) => fs.reduce((n, f) => n + (f.t === 'bytes' ? f.v.length : 8), 0) > 1024)).toBe(true);
    expect(sample.some((fs) => fs.some((f) => f.t === 'uint' && f.v > 0xffffffff))).toBe(true);
    // Text encoded in place (encodeInto): lone surrogates, and text that grows the buffer.
    expect(sample.some((fs) => fs.some((f) => f.t === 'text' && /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(f.v)))).toBe(true);
    expect(sample.some((fs) => fs.some((f) => f.t === 'text' && new TextEncoder().encode(f.v).length > 1024))).toBe(true);
    fc.assert(
      fc.property(fields, fc.constantFrom('S', 'T', 'R'), fc.option(fc.integer({ min: -5, max: 5000 })), (fs, kind, expected) => {
        // Any size hint: the buffer starts there and still grows past it.
        const w = expected === null ? new RecordWriter() : new RecordWriter(expected);
        for (const f of fs) {
          if (f.t === 'u8') w.u8(f.v);
          if (f.t === 'uint') w.uint(f.v);
          if (f.t === 'bytes') w.bytes(f.v);
          if (f.t === 'text') w.text(f.v);
        }
        const file = Buffer.concat(w.finish(kind as 'S'));
        expect(file.equals(reference(fs, kind))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('an integer that is not a safe non-negative integer is refused, not wrapped', () => {
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN]) expect(() => new RecordWriter().uint(bad)).toThrow(RangeError);
  });
});

describe('cache record reader', () => {
  const fail = (why: string): never => {
    throw new CacheFileError('/cache/file', why, 'recover');
  };
  it('reads back every field written (text decoded strictly, integers from two 32-bit halves)', () => {
    fc.assert(
      fc.property(fc.array(field, { maxLength: 40 }), (fs) => {
        const w = new RecordWriter();
        for (const f of fs) {
          if (f.t === 'u8') w.u8(f.v);
          if (f.t === 'uint') w.uint(f.v);
          if (f.t === 'bytes') w.bytes(f.v);
          if (f.t === 'text') w.text(f.v);
        }
        const r = new RecordReader(openRecord(new Uint8Array(Buffer.concat(w.finish('T'))), 'T', fail), fail);
        for (const f of fs) {
          if (f.t === 'u8') expect(r.u8()).toBe(f.v);
          if (f.t === 'uint') expect(r.uint()).toBe(f.v);
          if (f.t === 'bytes') expect(r.bytes()).toEqual(f.v);
          // What TextEncoder makes of the string (lone surrogates become U+FFFD).
          if (f.t === 'text') expect(r.text(1 << 20)).toBe(new TextDecoder().decode(new TextEncoder().encode(f.v)));
        }
        r.end();
      }),
      { numRuns: 300 },
    );
  });

  it('an 8-byte integer above its maximum (any of the 2^64, the safe range included) is cache_corrupt naming the value', () => {
    const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 53n + 3n }), fc.bigInt({ min: 0n, max: 2n ** 33n }));
    const max = fc.oneof(fc.constant(Number.MAX_SAFE_INTEGER), fc.integer({ min: 0, max: 0xffffffff }));
    fc.assert(
      fc.property(u64, max, (v, m) => {
        const payload = Buffer.alloc(8);
        payload.writeBigUInt64BE(v);
        const r = new RecordReader(new Uint8Array(payload), fail);
        if (v > BigInt(m)) expect(() => r.uint(m)).toThrowError(`a field is out of range (${v} > ${m})`);
        else expect(r.uint(m)).toBe(Number(v));
      }),
      { numRuns: 1000 },
    );
  });

  it('a text field that is not UTF-8 is cache_corrupt', () => {
    const payload = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 2, 0xc3, 0x28]);
    expect(() => new RecordReader(payload, fail).text(16)).toThrowError(expect.objectContaining({ code: 'cache_corrupt', message: expect.stringContaining('not UTF-8') }));
  });
});
