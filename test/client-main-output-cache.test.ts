/**
 * The outputs file (output-cache.ts) read and written without a string, a view or an HMAC
 * object per entry (issue 13 §1, the client's main thread): the batch entry keys
 * (entry-key-batch.ts) equal outputEntryKey, and the file read and written is exactly what
 * the previous code (kept below as the reference: Map of hex keys, RecordReader field by
 * field, one HMAC per identifier) read and wrote: the same bytes on disk, the same entries,
 * the same failure (message included) for any payload, damaged ones included.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheFileError, openRecord, RecordReader, RecordWriter } from '../src/client/cache-record.js';
import { EntryKeyHasher } from '../src/client/entry-key-batch.js';
import { EntryKeys, OutputCache } from '../src/client/output-cache.js';
import { outputEntryKey } from '../src/client/output-keys.js';
import type { KnownOutput, KnownOutputs } from '../src/protocol/discovery/known-outputs.js';

const root = mkdtempSync(join(tmpdir(), 'client-main-outputs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let run = 0;
const SERVER = 'ws://a';

const identifier = fc.oneof(
  fc.stringMatching(/^tel:\+[1-9][0-9]{6,12}$/),
  // Any UTF-16 code units (lone surrogates too), and long ones: several inner blocks.
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 24 }),
  fc.string({ unit: 'grapheme', minLength: 20, maxLength: 90 }),
);
const key = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fc.uint8Array({ minLength: 0, maxLength: 64 }),
  // Over a block: hashed first (RFC 2104 §2).
  fc.integer({ min: 65, max: 150 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
);
const utf8Length = (s: string) => new TextEncoder().encode(s).length;

describe('batch entry keys', () => {
  it('the generators reach long identifiers (one, two, three inner blocks), lone surrogates, keys over a block', () => {
    const ids = fc.sample(identifier, { numRuns: 3000, seed: 3 });
    expect(ids.some((s) => utf8Length(s) <= 55)).toBe(true);
    expect(ids.some((s) => utf8Length(s) > 55 && utf8Length(s) <= 119)).toBe(true);
    expect(ids.some((s) => utf8Length(s) > 119)).toBe(true);
    expect(ids.some((s) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s))).toBe(true);
    expect(fc.sample(key, { numRuns: 500, seed: 3 }).some((k) => k.length > 64)).toBe(true);
  });

  it('equal outputEntryKey for every key and identifier, in any batch and at any offset', () => {
    fc.assert(
      fc.property(key, fc.array(identifier, { maxLength: 12 }), fc.nat(40), (k, ids, at) => {
        const out = new Uint8Array(at + 16 * ids.length).fill(0xee);
        const hasher = new EntryKeyHasher(k);
        hasher.keysInto(ids, out, at);
        expect(out.subarray(0, at).every((b) => b === 0xee)).toBe(true);
        ids.forEach((id, i) => expect(out.subarray(at + 16 * i, at + 16 * (i + 1))).toEqual(outputEntryKey(k, id)));
        // The hasher is reusable: a second batch (one identifier) gives the same key.
        if (ids.length > 0) {
          const again = new Uint8Array(16);
          hasher.keysInto(ids, again, 0, ids.length - 1);
          expect(again).toEqual(outputEntryKey(k, ids[ids.length - 1]));
        }
      }),
      { numRuns: 300 },
    );
  });
});

// --- The reference: output-cache.ts before this change (record and decode). ---

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

function referenceRecord(outputs: KnownOutputs, cacheKey: Uint8Array): Uint8Array[] {
  const w = new RecordWriter()
    .text(SERVER)
    .bytes(outputs.identity ?? new Uint8Array(0))
    .uint(outputs.epoch)
    .bytes(outputs.publicKey)
    .uint(Math.max(0, outputs.version))
    .uint(outputs.entries.size);
  for (const [id, entry] of outputs.entries) {
    w.bytes(outputEntryKey(cacheKey, id))
      .bytes(entry.output)
      .u8((entry.labelChecked ? 1 : 0) | (entry.match ? 2 : 0))
      .text(entry.match?.userId ?? '')
      .bytes(entry.match?.label ?? new Uint8Array(0));
  }
  return w.finish('T');
}

function referenceDecode(file: Uint8Array, identifiers: readonly string[], cacheKeyFor: (identity: Uint8Array | undefined) => Uint8Array): KnownOutputs {
  const fail = (why: string): never => {
    throw new CacheFileError('x', why, 'It is deleted and the book is evaluated again');
  };
  const r = new RecordReader(openRecord(file, 'T', fail), fail);
  if (r.text(4096) !== SERVER) fail('it was written for another server');
  const identityBytes = r.bytes(32);
  if (identityBytes.length !== 0 && identityBytes.length !== 32) fail('its identity is not 32 bytes');
  const identity = identityBytes.length ? identityBytes.slice() : undefined;
  const epoch = r.uint(0xffffffff);
  const publicKey = r.bytes(64).slice();
  const version = r.uint();
  const count = r.uint(10_000_000);
  const cacheKey = cacheKeyFor(identity);
  const byKey = new Map<string, string>();
  for (const id of identifiers) byKey.set(hexOf(outputEntryKey(cacheKey, id)), id);
  const entries = new Map<string, KnownOutput>();
  let outputLength: number | undefined;
  for (let i = 0; i < count; i++) {
    const k = r.bytes(16);
    const output = r.bytes(128);
    const flags = r.u8();
    const userId = r.text(4096);
    const label = r.bytes(64 * 1024);
    if (k.length !== 16 || output.length === 0 || flags > 3 || flags === 2) fail('an entry is malformed');
    if (outputLength !== undefined && output.length !== outputLength) fail('its outputs differ in length');
    outputLength = output.length;
    if (!(flags & 2) && (userId !== '' || label.length !== 0)) fail('a label is stored for a non-match');
    const id = byKey.get(hexOf(k));
    if (id === undefined) continue;
    entries.set(id, { output: output.slice(), labelChecked: (flags & 1) === 1, match: flags & 2 ? { userId, label: label.slice() } : undefined });
  }
  r.end();
  return { identity, epoch, publicKey, version, entries };
}

const outcome = (fn: () => unknown): unknown => {
  try {
    return { ok: fn() };
  } catch (err) {
    return { error: (err as Error).message.replace(/^.*?: /, '') };
  }
};

// --- Generators ---

const bytesOf = (s: string) => new TextEncoder().encode(s);
/** User id bytes: ASCII, UTF-8 text, a lone BOM (decodes to ''), invalid UTF-8. */
const userIdBytes = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.stringMatching(/^u[0-9]{1,8}$/).map(bytesOf),
  fc.string({ unit: 'grapheme', maxLength: 6 }).map(bytesOf),
  fc.constant(new Uint8Array([0xef, 0xbb, 0xbf])),
  fc.uint8Array({ minLength: 1, maxLength: 6 }),
);

interface RawEntry {
  id: number; // index into the identifiers, or -1: a key of no identifier
  keyLength: number;
  outputLength: number;
  flags: number;
  userId: Uint8Array;
  label: Uint8Array;
}
/** Mostly well-formed entries (a match with its label, a non-match without), some with any field. */
const wellFormed = fc.record({
  id: fc.integer({ min: -1, max: 7 }),
  keyLength: fc.constant(16),
  outputLength: fc.constant(64),
  flags: fc.constantFrom(0, 1, 3),
  userId: userIdBytes,
  label: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 40 })),
}).map((e) => (e.flags === 3 ? e : { ...e, userId: e.userId.length === 3 && e.userId[0] === 0xef ? e.userId : new Uint8Array(0), label: new Uint8Array(0) }));
const anyEntry = fc.record({
  id: fc.integer({ min: -1, max: 7 }),
  keyLength: fc.oneof({ weight: 8, arbitrary: fc.constant(16) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 20 }) }),
  outputLength: fc.oneof({ weight: 8, arbitrary: fc.constant(64) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 130 }) }),
  flags: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
  userId: userIdBytes,
  label: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 40 })),
});
const fileCase = fc.record({
  ids: fc.uniqueArray(identifier, { minLength: 1, maxLength: 8 }),
  cacheKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  entries: fc.array(fc.oneof({ weight: 12, arbitrary: wellFormed }, { weight: 1, arbitrary: anyEntry }), { maxLength: 12 }),
  countDelta: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 2 }) }),
  cut: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }) }),
  hugeLength: fc.oneof({ weight: 10, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(11) }),
  book: fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 10 }),
});

type FileCase = typeof fileCase extends fc.Arbitrary<infer T> ? T : never;

/** A payload built field by field (any lengths, flags, text), with a valid header and checksum, so the entry parser is what decides. */
function buildFile(c: FileCase): Uint8Array {
  const w = new RecordWriter().text(SERVER).bytes(new Uint8Array(32).fill(9)).uint(4).bytes(new Uint8Array(32).fill(1)).uint(2).uint(Math.max(0, c.entries.length + c.countDelta));
  c.entries.forEach((e: RawEntry, i: number) => {
    const k = e.id >= 0 && e.id < c.ids.length ? outputEntryKey(c.cacheKey, c.ids[e.id]) : new Uint8Array(16).fill(i);
    const key = new Uint8Array(e.keyLength);
    key.set(k.subarray(0, Math.min(16, e.keyLength)));
    // One field announces a length past its limit (out of range) when hugeLength picks it.
    if (c.hugeLength === i) w.uint(1 << 20);
    else w.bytes(key);
    w.bytes(new Uint8Array(e.outputLength).fill(i + 1)).u8(e.flags).bytes(e.userId).bytes(e.label);
  });
  const payload = w.finish('T')[1];
  return wrap(payload.subarray(0, Math.max(0, payload.length - c.cut)));
}

/** A record file around `payload` (cache-record.ts: header, payload, SHA-256 of both). */
function wrap(payload: Uint8Array): Uint8Array {
  const header = new Uint8Array(16);
  header.set([0x43, 0x50, 0x53, 0x49, 'T'.charCodeAt(0), 1]);
  new DataView(header.buffer).setBigUint64(8, BigInt(payload.length), false);
  const sum = createHash('sha256').update(header).update(payload).digest();
  return Buffer.concat([header, payload, sum]);
}

describe('outputs file: the same as the previous code', () => {
  it('the generators reach hits, misses, every failure, BOM and invalid user ids, truncation', () => {
    const cases = fc.sample(fileCase, { numRuns: 2000, seed: 5 });
    const errors = new Set<string>();
    let hits = 0;
    let bom = 0;
    let invalid = 0;
    for (const c of cases) {
      const file = buildFile(c);
      const r = outcome(() => referenceDecode(file, c.book.filter((b) => b < c.ids.length).map((b) => c.ids[b]), () => c.cacheKey)) as { ok?: KnownOutputs; error?: string };
      if (r.error) errors.add(r.error.replace(/\(.*\)/, '(n)'));
      else hits += r.ok!.entries.size;
      bom += c.entries.filter((e) => e.userId.length === 3 && e.userId[0] === 0xef && e.flags < 2 && e.label.length === 0).length;
      invalid += c.entries.filter((e) => e.userId.some((b) => b >= 0x80)).length;
    }
    expect(hits).toBeGreaterThan(50);
    expect(bom).toBeGreaterThan(5);
    expect(invalid).toBeGreaterThan(50);
    for (const why of ['truncated field', 'an entry is malformed', 'its outputs differ in length', 'a label is stored for a non-match', 'a text field is not UTF-8', 'trailing bytes after the last field', 'a field is out of range (n)']) {
      expect([...errors].some((e) => e.startsWith(why)), why).toBe(true);
    }
  });

  it('reads any payload as the previous code did: the same entries, or the same failure', () => {
    fc.assert(
      fc.property(fileCase, (c) => {
        const dir = join(root, String(run++));
        const file = buildFile(c);
        const book = c.book.filter((b) => b < c.ids.length).map((b) => c.ids[b]);
        const cache = new OutputCache(dir, SERVER);
        const expected = outcome(() => referenceDecode(file, book, () => c.cacheKey));
        const got = outcome(() => (cache as unknown as { decode: (f: Uint8Array, i: readonly string[], k: () => Uint8Array) => KnownOutputs }).decode(file, book, () => c.cacheKey));
        expect(got).toEqual(expected);
      }),
      { numRuns: 1500 },
    );
  });

  it('writes the bytes the previous code wrote, and reads back what it wrote, through one EntryKeys or several', () => {
    const entry = fc.record({
      output: fc.uint8Array({ minLength: 64, maxLength: 64 }),
      labelChecked: fc.boolean(),
      match: fc.option(fc.record({ userId: fc.string({ unit: 'grapheme', maxLength: 8 }), label: fc.uint8Array({ maxLength: 40 }) }), { nil: undefined }),
    }).map((e) => (e.match ? { ...e, labelChecked: true } : e)); // a match is a checked label (flags 2 alone is malformed)
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(identifier, entry), { selector: (t) => t[0], maxLength: 20 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean(), (rows, cacheKey, shared) => {
        const dir = join(root, String(run++));
        const outputs: KnownOutputs = { identity: new Uint8Array(32).fill(3), epoch: 5, publicKey: new Uint8Array(32).fill(4), version: 9, entries: new Map(rows) };
        const keys = shared ? new EntryKeys() : undefined;
        const cache = new OutputCache(dir, SERVER, keys);
        cache.save(outputs, cacheKey);
        const written = readFileSync(cache.path);
        expect(written.equals(Buffer.concat(referenceRecord(outputs, cacheKey)))).toBe(true);
        // Read back (by the new and the reference reader) with the book in another order, plus strangers.
        const book = [...rows.map((r) => r[0])].reverse().concat(['tel:+41000000000']);
        const loaded = new OutputCache(dir, SERVER, keys).load(book, () => cacheKey);
        expect(loaded).toEqual(referenceDecode(new Uint8Array(written), book, () => cacheKey));
        expect(loaded?.entries.size).toBe(rows.length);
      }),
      { numRuns: 200 },
    );
  });

  it('a file the previous code wrote is read as before (version unchanged), and a damaged one is deleted', () => {
    const dir = join(root, String(run++));
    const cacheKey = new Uint8Array(32).fill(5);
    const outputs: KnownOutputs = { epoch: 1, publicKey: new Uint8Array(32).fill(2), version: 0, entries: new Map([['tel:+41790000001', { output: new Uint8Array(64).fill(7), labelChecked: true, match: { userId: 'u1', label: new Uint8Array([1, 2]) } }]]) };
    mkdirSync(dir, { recursive: true });
    const cache = new OutputCache(dir, SERVER);
    writeFileSync(cache.path, Buffer.concat(referenceRecord(outputs, cacheKey)));
    expect(cache.load(['tel:+41790000001'], () => cacheKey)).toEqual(outputs);
    const damaged = readFileSync(cache.path);
    damaged[30] ^= 1;
    writeFileSync(cache.path, damaged);
    expect(cache.load(['tel:+41790000001'], () => cacheKey)).toBeUndefined();
    expect(cache.discarded).toMatch(/checksum/);
  });
});

const ascii = (max: number) =>
  fc.integer({ min: 0, max }).chain((n) => fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), minLength: n, maxLength: n }));

describe('RecordWriter.text: ASCII byte by byte, the rest by encodeInto', () => {
  const text = fc.oneof(
    ascii(70),
    // ASCII then not (the fast path gives up part-way), around the 64-unit border.
    fc.tuple(ascii(66), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }).filter((g) => /[^\x00-\x7f]/.test(g))).map(([a, b]) => a + b),
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 70 }),
  );

  it('the generator reaches ASCII up to and over 64 units, and ASCII prefixes of non-ASCII text', () => {
    const s = fc.sample(text, { numRuns: 1000, seed: 9 });
    expect(s.some((v) => /^[\x00-\x7f]*$/.test(v) && v.length === 64)).toBe(true);
    expect(s.some((v) => /^[\x00-\x7f]*$/.test(v) && v.length > 64)).toBe(true);
    expect(s.some((v) => /^[\x00-\x7f]{30,}[^\x00-\x7f]/.test(v))).toBe(true);
  });

  it('writes length and UTF-8 bytes as TextEncoder gives them, after any fields, growing the buffer', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(text, fc.uint8Array({ maxLength: 20 })), { maxLength: 12 }), (fields) => {
        const w = new RecordWriter(1);
        const parts: Uint8Array[] = [];
        for (const f of fields) {
          const body = typeof f === 'string' ? new TextEncoder().encode(f) : f;
          if (typeof f === 'string') w.text(f);
          else w.bytes(f);
          const len = new Uint8Array(8);
          new DataView(len.buffer).setBigUint64(0, BigInt(body.length), false);
          parts.push(len, body);
        }
        expect(Buffer.from(w.finish('T')[1]).equals(Buffer.concat(parts))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
