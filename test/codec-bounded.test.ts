/**
 * Decoding is bounded by the schemas, not by the wire (issue 9 §1): every hostile message
 * (containers of every kind and depth, huge declared lengths of every width, many keys,
 * every msgpack type, truncation, trailing bytes) is refused with a coded CodecError
 * before msgpackr materialises anything, within 64 MiB of extra heap and 100 ms of CPU.
 * Those two figures are bounds, not speed measurements: the unbounded decoder needed GiBs
 * and seconds. Valid messages of every type, with random field values, still round-trip.
 */
import fc from 'fast-check';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, messageShape } from '../src/protocol/codec.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas, MAX_ENVELOPE_BYTES, MAX_LOG_ENTRIES_PER_MESSAGE } from '../src/protocol/discovery/messages.js';
import { CodecError } from '../src/protocol/errors.js';
import { DEFAULT_LIMITS } from '../src/protocol/limits.js';
import { psiSchemas } from '../src/protocol/messages.js';
import { scanMessage, type MessageShape } from '../src/protocol/msgpack-scan.js';
import type { FieldSpec, MessageSchema } from '../src/protocol/schema.js';

v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const HEAP_BOUND = 64 * MiB;
const CPU_BOUND_US = 100_000;

const sets = {
  psi: { schemas: psiSchemas(DEFAULT_LIMITS), maxBytes: DEFAULT_LIMITS.maxMessageBytes },
  discovery: { schemas: discoverySchemas(DEFAULT_DISCOVERY_LIMITS), maxBytes: DEFAULT_DISCOVERY_LIMITS.maxMessageBytes },
} as const;
type SetName = keyof typeof sets;
const shapes = { psi: messageShape(sets.psi.schemas), discovery: messageShape(sets.discovery.schemas) };

/**
 * Decodes, expecting a coded CodecError; returns the code, the extra heap (heapUsed and
 * ArrayBuffer growth over the call) and CPU it cost. `collect` runs gc first (the large
 * literal messages); the property runs skip it (a gc per run costs ~10 ms): growth over one
 * call still shows what a decoder materialised, since nothing is collected fully mid-call.
 */
function refusal(set: SetName, bytes: Uint8Array, collect = false): { code: string; heap: number; arrayBuffers: number; cpuUs: number } {
  if (collect) gc();
  const before = process.memoryUsage();
  const cpu = process.cpuUsage();
  let error: unknown;
  try {
    decodeMessage(bytes, sets[set].schemas, sets[set].maxBytes);
  } catch (err) {
    error = err;
  }
  const used = process.cpuUsage(cpu);
  const after = process.memoryUsage();
  expect(error, 'a hostile message was accepted').toBeInstanceOf(CodecError);
  const code = (error as CodecError).code;
  expect(typeof code).toBe('string');
  return { code, heap: after.heapUsed - before.heapUsed, arrayBuffers: after.arrayBuffers - before.arrayBuffers, cpuUs: used.user + used.system };
}

function expectBoundedRefusal(set: SetName, bytes: Uint8Array, codes: readonly string[], collect = false): string {
  const r = refusal(set, bytes, collect);
  expect(codes).toContain(r.code);
  expect(r.heap).toBeLessThan(HEAP_BOUND);
  expect(r.arrayBuffers).toBeLessThan(HEAP_BOUND);
  expect(r.cpuUs).toBeLessThan(CPU_BOUND_US);
  return r.code;
}

// ---------------------------------------------------------------------------------------
// msgpack pieces, written by hand (an encoder would refuse to write most of these)

type Bytes = Uint8Array | readonly number[];
const cat = (...parts: Bytes[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const be = (n: number, width: 1 | 2 | 4): number[] => (width === 1 ? [n & 0xff] : width === 2 ? [(n >>> 8) & 0xff, n & 0xff] : [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const utf8 = (s: string) => new TextEncoder().encode(s);
const fixstr = (s: string) => cat([0xa0 | utf8(s).length], utf8(s));

type Width = 'fix' | 8 | 16 | 32;
const ContainerKinds = ['str', 'bin', 'array', 'map', 'ext'] as const;
type ContainerKind = (typeof ContainerKinds)[number];
const widthMax = (w: Width, kind: ContainerKind): number => (w === 'fix' ? (kind === 'str' ? 31 : 15) : w === 8 ? 0xff : w === 16 ? 0xffff : 0xffffffff);
const widthsOf = (kind: ContainerKind): Width[] => (kind === 'bin' ? [8, 16, 32] : kind === 'ext' ? ['fix', 8, 16, 32] : ['fix', 8, 16, 32].filter((w) => !(kind !== 'str' && w === 8)) as Width[]);

/** The header of a `kind` of declared length (or count) `n`, in width `w`. */
function header(kind: ContainerKind, w: Width, n: number): Uint8Array {
  switch (kind) {
    case 'str':
      return Uint8Array.from(w === 'fix' ? [0xa0 | (n & 31)] : w === 8 ? [0xd9, ...be(n, 1)] : w === 16 ? [0xda, ...be(n, 2)] : [0xdb, ...be(n, 4)]);
    case 'bin':
      return Uint8Array.from(w === 8 || w === 'fix' ? [0xc4, ...be(n, 1)] : w === 16 ? [0xc5, ...be(n, 2)] : [0xc6, ...be(n, 4)]);
    case 'array':
      return Uint8Array.from(w === 'fix' || w === 8 ? [0x90 | (n & 15)] : w === 16 ? [0xdc, ...be(n, 2)] : [0xdd, ...be(n, 4)]);
    case 'map':
      return Uint8Array.from(w === 'fix' || w === 8 ? [0x80 | (n & 15)] : w === 16 ? [0xde, ...be(n, 2)] : [0xdf, ...be(n, 4)]);
    case 'ext':
      // fixext 1/2/4/8/16 (n picks the size), or ext8/16/32 with a declared length; type byte 1.
      return Uint8Array.from(w === 'fix' ? [0xd4 + (n % 5), 1] : w === 8 ? [0xc7, ...be(n, 1), 1] : w === 16 ? [0xc8, ...be(n, 2), 1] : [0xc9, ...be(n, 4), 1]);
  }
}

/** A container header of any kind and width, with a declared length from 0 to the width's maximum (biased to huge). */
const anyHeader = fc
  .constantFrom(...ContainerKinds)
  .chain((kind) => fc.record({ kind: fc.constant(kind), width: fc.constantFrom(...widthsOf(kind)) }))
  .chain(({ kind, width }) =>
    fc.record({
      kind: fc.constant(kind),
      width: fc.constant(width),
      n: fc.oneof(fc.constant(widthMax(width, kind)), fc.integer({ min: 0, max: widthMax(width, kind) }), fc.integer({ min: 0, max: 20 })),
    }),
  );

/** Every other single-byte msgpack type: nil, 0xc1, bools, ints, floats (with their bodies). */
const scalarBytes = fc.oneof(
  fc.constantFrom([0xc0], [0xc1], [0xc2], [0xc3], [0x00], [0x7f], [0xe0], [0xff]),
  fc.tuple(fc.constantFrom(0xcc, 0xd0), fc.nat(255)).map(([t, b]) => [t, b]),
  fc.tuple(fc.constantFrom(0xcd, 0xd1), fc.uint8Array({ minLength: 2, maxLength: 2 })).map(([t, b]) => [t, ...b]),
  fc.tuple(fc.constantFrom(0xce, 0xd2, 0xca), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([t, b]) => [t, ...b]),
  fc.tuple(fc.constantFrom(0xcf, 0xd3, 0xcb), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([t, b]) => [t, ...b]),
);

/**
 * Any msgpack value, well formed, of any type and depth (maps with keys of any type),
 * written as bytes: the shapes a generic decoder would happily materialise.
 */
const anyValue: fc.Arbitrary<Uint8Array> = fc.letrec<{ value: Uint8Array }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarBytes.filter((b) => b[0] !== 0xc1).map((b) => Uint8Array.from(b)),
    fc.string({ maxLength: 40 }).map((s) => cat(header('str', 32, utf8(s).length), utf8(s))),
    fc.uint8Array({ maxLength: 40 }).map((b) => cat(header('bin', 16, b.length), b)),
    fc.tuple(fc.constantFrom('fix', 8, 16, 32) as fc.Arbitrary<Width>, fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([w, d]) =>
      w === 'fix' ? cat(header('ext', 'fix', 4), d.subarray(0, 16)) : cat(header('ext', w, 3), d.subarray(0, 3)),
    ),
    fc.array(tie('value'), { maxLength: 5 }).map((items) => cat(header('array', 32, items.length), ...items)),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 }).map((entries) => cat(header('map', 16, entries.length), ...entries.flat())),
  ),
})).value;

/** `{ v: 1, t: <type>, ...entries }` as a map of `count` entries (count may lie). */
const envelope = (type: string, count: number, ...entries: Bytes[]) => cat(header('map', 16, count), fixstr('v'), [0x01], fixstr('t'), fixstr(type), ...entries);
/**
 * A type whose required fields the hostile messages never complete (psi.query needs seq,
 * dir.receipt has no `sealed`), so a field that passes the scan still fails the schema:
 * every generated message is one to refuse.
 */
const typeOf = (set: SetName) => (set === 'psi' ? 'psi.query' : 'dir.receipt');
/** A field name the psi schema has, and the one name that takes an array in discovery. */
const fieldOf = (set: SetName) => (set === 'psi' ? 'blinded' : 'sealed');

const validQuery = encodeMessage({ t: 'psi.query', seq: 3, blinded: new Uint8Array(64).fill(7) });
const validLabels = encodeMessage({ t: 'dir.labels', sealed: [new Uint8Array(3), new Uint8Array(0)], tokenAccepted: true });
const validOf = (set: SetName) => (set === 'psi' ? validQuery : validLabels);

type Hostile = { case: string; set: SetName; bytes: Uint8Array; codes: readonly string[] };
const shapeCodes = ['bad_field', 'too_large', 'malformed', 'bad_version'] as const;

const setName = fc.constantFrom<SetName>('psi', 'discovery');
const filler = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 4096 }).map((n) => new Uint8Array(n).fill(0x80)));

const hostile: fc.Arbitrary<Hostile> = setName.chain((set) =>
  fc.oneof(
    // Anything but a map at the top level, of every kind and width, any declared length.
    fc.tuple(anyHeader.filter((h) => h.kind !== 'map'), filler).map(([h, fill]) => ({ case: `top-${h.kind}-${h.width}`, set, bytes: cat(header(h.kind, h.width, h.n), fill), codes: ['malformed'] })),
    fc.tuple(scalarBytes, filler).map(([s, fill]) => ({ case: 'top-scalar', set, bytes: cat(s, fill), codes: ['malformed'] })),
    // A top-level map declaring more entries than any message has (map16, map32), or truncated.
    fc.tuple(fc.constantFrom<Width>('fix', 16, 32), fc.nat(), filler).map(([w, r, fill]) => {
      const max = widthMax(w, 'map');
      const n = shapes[set].maxKeys + 1 + (r % Math.max(1, max - shapes[set].maxKeys));
      return w === 'fix' && n > 15
        ? { case: 'top-map-truncated', set, bytes: cat(header('map', 'fix', 15), fill.subarray(0, 20)), codes: ['malformed', 'bad_field', 'too_large'] }
        : { case: `top-map-${w}-many-keys`, set, bytes: cat(header('map', w, n), fill), codes: ['too_large'] };
    }),
    // A field holding a container of any kind, width and declared length, then anything.
    fc.tuple(anyHeader, filler).map(([h, fill]) => ({ case: `field-${h.kind}-${h.width}`, set, bytes: cat(envelope(typeOf(set), 3, fixstr(fieldOf(set)), header(h.kind, h.width, h.n), fill)), codes: shapeCodes })),
    // Deep nesting: arrays and maps of any width, thousands of levels.
    fc.tuple(fc.array(fc.record({ kind: fc.constantFrom<ContainerKind>('array', 'map'), width: fc.constantFrom<Width>('fix', 16, 32) }), { minLength: 1, maxLength: 50 }), fc.integer({ min: 1, max: 5000 }), fc.boolean()).map(
      ([levels, repeat, top]) => {
        const chain: Uint8Array[] = [];
        for (let i = 0; i < repeat; i++) {
          const l = levels[i % levels.length]!;
          chain.push(l.kind === 'map' ? cat(header('map', l.width, 1), [0xc0]) : header('array', l.width, 1));
        }
        const nested = cat(...chain, [0xc0]);
        return top
          ? { case: 'deep-top', set, bytes: nested, codes: ['malformed'] }
          : { case: 'deep-field', set, bytes: envelope(typeOf(set), 3, fixstr(fieldOf(set)), nested), codes: shapeCodes };
      },
    ),
    // Any well-formed msgpack value in a field, or at the top level, or as a key.
    fc.tuple(anyValue, fc.constantFrom('field', 'top', 'key')).map(([value, where]) => ({
      case: `any-${where}`,
      set,
      bytes: where === 'top' ? value : where === 'field' ? envelope(typeOf(set), 3, fixstr(fieldOf(set)), value) : envelope(typeOf(set), 3, value, [0xc0]),
      codes: ['malformed', 'bad_field', 'too_large', 'bad_version', 'unknown_type'],
    })).filter((h) => h.case !== 'any-field' || !scanAccepts(h.bytes, h.set)),
    // The array32-of-fixmaps of the report, small enough to generate: at the top and in the array field.
    fc.tuple(fc.integer({ min: 1, max: 0xffffffff }), fc.integer({ min: 0, max: 65536 }), fc.boolean()).map(([n, fill, top]) => {
      const body = cat(header('array', 32, n), new Uint8Array(fill).fill(0x80));
      return top ? { case: 'fixmaps-top', set, bytes: body, codes: ['malformed'] } : { case: 'fixmaps-field', set, bytes: envelope(typeOf(set), 3, fixstr(fieldOf(set)), body), codes: shapeCodes };
    }),
    // Keys: not strings, too long, repeated.
    fc.tuple(fc.oneof(scalarBytes.filter((b) => b[0] !== 0xc1).map((b) => Uint8Array.from(b)), anyHeader.filter((h) => h.kind !== 'str').map((h) => header(h.kind, h.width, h.n)))).map(([key]) => ({
      case: 'key-not-string',
      set,
      bytes: envelope(typeOf(set), 3, key, [0xc0]),
      codes: ['malformed'],
    })),
    fc.integer({ min: shapes[set].maxKeyBytes + 1, max: 5000 }).map((n) => ({ case: 'key-too-long', set, bytes: envelope(typeOf(set), 3, cat(header('str', 16, n), new Uint8Array(n).fill(0x61)), [0xc0]), codes: ['bad_field'] })),
    fc.integer({ min: 1, max: shapes[set].maxKeys - 3 }).map((k) => ({
      case: 'key-repeated',
      set,
      bytes: envelope(typeOf(set), 2 + k + 1, ...Array.from({ length: k }, () => cat(fixstr(fieldOf(set)), [0xc0])), fixstr('v'), [0x01]),
      codes: ['bad_field'],
    })),
    // Truncated and trailing bytes around a valid message.
    fc.nat().map((cut) => ({ case: 'truncated', set, bytes: validOf(set).subarray(0, cut % validOf(set).length), codes: ['malformed'] })),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => ({ case: 'trailing', set, bytes: cat(validOf(set), extra), codes: ['malformed'] })),
    // Arrays: where no schema takes one (psi), of non-bin items, of more items than any binList.
    fc.tuple(scalarBytes.filter((b) => b[0] !== 0xc1), fc.integer({ min: 1, max: 100 })).map(([item, n]) => ({
      case: 'array-of-non-bin',
      set,
      bytes: envelope(typeOf(set), 3, fixstr(fieldOf(set)), header('array', 16, n), ...Array.from({ length: n }, () => Uint8Array.from(item))),
      codes: ['bad_field'],
    })),
    fc.integer({ min: shapes.discovery.maxListItems + 1, max: 0xffffffff }).map((n) => ({
      case: 'array-over-items',
      set,
      bytes: envelope(typeOf(set), 3, fixstr(fieldOf(set)), header('array', 32, n), new Uint8Array(64)),
      codes: set === 'psi' ? ['bad_field'] : ['too_large'],
    })),
  ),
);

/** Whether the scan lets the message through (the schema check then judges it): not a hostile shape. */
function scanAccepts(bytes: Uint8Array, set: SetName): boolean {
  try {
    scanMessage(bytes, shapes[set]);
    return true;
  } catch {
    return false;
  }
}

describe('the pre-scan shape is derived from the schemas', () => {
  // Label format 2 packs dir.labels into one byte string: the widest list is dir.log's.
  it('discovery: the widest message (dir.info) + v, t keys, one binList of dir.log entries', () => {
    const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
    const widest = Math.max(...Object.values(schemas).map((schema) => Object.keys(schema).length));
    expect(Object.keys(schemas['dir.info']).length).toBe(widest);
    expect(shapes.discovery).toMatchObject({
      maxKeys: widest + 2,
      maxLists: 1,
      maxListItems: MAX_LOG_ENTRIES_PER_MESSAGE,
      maxListItemBytes: MAX_ENVELOPE_BYTES,
      maxKeyBytes: Math.max(...Object.values(schemas).flatMap((schema) => Object.keys(schema).map((key) => key.length))),
      maxStrBytes: 3 * 1024,
    });
    expect(shapes.psi).toMatchObject({ maxKeys: 9, maxLists: 0, maxStrBytes: 3 * 1024, maxBinBytes: DEFAULT_LIMITS.maxEncodingBytes });
  });
});

describe('hostile messages are refused with a code, within 64 MiB and 100 ms each', () => {
  it('the generator reaches every case (fc.sample)', () => {
    const seen = new Set(fc.sample(hostile, 6000).map((h) => `${h.case}`));
    const expected = [
      ...['str', 'bin', 'array', 'ext'].flatMap((k) => widthsOf(k as ContainerKind).map((w) => `top-${k}-${w}`)),
      'top-scalar',
      'top-map-16-many-keys',
      'top-map-32-many-keys',
      ...ContainerKinds.flatMap((k) => widthsOf(k).map((w) => `field-${k}-${w}`)),
      'deep-top',
      'deep-field',
      'any-field',
      'any-top',
      'any-key',
      'fixmaps-top',
      'fixmaps-field',
      'key-not-string',
      'key-too-long',
      'key-repeated',
      'truncated',
      'trailing',
      'array-of-non-bin',
      'array-over-items',
    ];
    expect(expected.filter((c) => !seen.has(c))).toEqual([]);
  });

  it('each generated hostile message: a coded CodecError of its case, bounded heap and CPU (property)', () => {
    const codes = new Set<string>();
    fc.assert(
      fc.property(hostile, (h) => {
        codes.add(expectBoundedRefusal(h.set, h.bytes, h.codes));
      }),
      { numRuns: 3000 },
    );
    for (const code of ['malformed', 'too_large', 'bad_field']) expect(codes).toContain(code);
  });

  it('the 60 MiB array32 of empty fixmaps from the report is refused at once, with a small heap', () => {
    const n = 60 * MiB - 5;
    const bytes = new Uint8Array(60 * MiB).fill(0x80);
    bytes.set([0xdd, ...be(n, 4)]);
    for (const set of ['psi', 'discovery'] as const) {
      const r = refusal(set, bytes, true);
      expect(r.code).toBe('malformed');
      expect(r.heap).toBeLessThan(HEAP_BOUND);
      expect(r.arrayBuffers).toBeLessThan(HEAP_BOUND);
      expect(r.cpuUs).toBeLessThan(CPU_BOUND_US);
    }
    // The same fill as the value of the one field that takes an array.
    const inField = cat(envelope('dir.labels', 3, fixstr('sealed'), header('array', 32, n)), new Uint8Array(60 * MiB - 32).fill(0x80));
    expectBoundedRefusal('discovery', inField, ['too_large'], true);
  });

  it('an 8 MiB one too, and one whose declared count fits the binList bound', () => {
    const n = 8 * MiB - 5;
    const bytes = new Uint8Array(8 * MiB).fill(0x80);
    bytes.set([0xdd, ...be(n, 4)]);
    expectBoundedRefusal('discovery', bytes, ['malformed'], true);
    // 100,000 declared items (the binList bound), each a fixmap: refused at the first item.
    const fits = cat(envelope('dir.labels', 3, fixstr('sealed'), header('array', 32, shapes.discovery.maxListItems)), new Uint8Array(8 * MiB).fill(0x80));
    expectBoundedRefusal('discovery', fits, ['bad_field'], true);
  });

  it('a shape refused after a foreign version is reported as bad_version, as before the pre-scan', () => {
    const nested = cat(header('map', 16, 3), fixstr('v'), [0x02], fixstr('t'), fixstr('dir.hello'), fixstr('x'), header('map', 'fix', 0));
    expect(refusal('discovery', nested).code).toBe('bad_version');
    const vAsMap = cat(header('map', 16, 2), fixstr('v'), header('map', 'fix', 0), fixstr('t'), fixstr('dir.hello'));
    expect(refusal('discovery', vAsMap).code).toBe('bad_version');
    // v == 1 written as a float64 or a uint32 is still version 1: the nested map is bad_field.
    for (const one of [[0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0], [0xce, 0, 0, 0, 1]]) {
      const bytes = cat(header('map', 16, 3), fixstr('v'), one, fixstr('t'), fixstr('dir.hello'), fixstr('x'), header('map', 'fix', 0));
      expect(refusal('discovery', bytes).code).toBe('bad_field');
    }
  });
});

describe('each bound of the scan, at and just past it', () => {
  const shape: MessageShape = { maxKeys: 4, maxKeyBytes: 3, maxStrBytes: 5, maxBinBytes: 6, maxLists: 1, maxListItems: 3, maxListItemBytes: 2, maxItems: 1 + 8 + 3 };
  const scan = (bytes: Uint8Array) => {
    try {
      scanMessage(bytes, shape);
      return 'ok';
    } catch (err) {
      expect(err).toBeInstanceOf(CodecError);
      return (err as CodecError).code;
    }
  };
  const map = (...entries: Uint8Array[]) => cat(header('map', 'fix', entries.length / 2), ...entries);
  const str = (n: number) => cat(header('str', 8, n), new Uint8Array(n).fill(0x61));
  const bin = (n: number) => cat(header('bin', 8, n), new Uint8Array(n));
  const list = (items: Uint8Array[]) => cat(header('array', 16, items.length), ...items);
  const nil = Uint8Array.of(0xc0);

  it('keys: count, length', () => {
    const keys = (n: number) => Array.from({ length: n }, (_, i) => [fixstr(`k${i}`), nil]).flat();
    expect(scan(map(...keys(4)))).toBe('ok');
    expect(scan(map(...keys(5)))).toBe('too_large');
    expect(scan(map(fixstr('abc'), nil))).toBe('ok');
    expect(scan(map(fixstr('abcd'), nil))).toBe('bad_field');
  });
  it('str and bin lengths', () => {
    expect(scan(map(fixstr('s'), str(5)))).toBe('ok');
    expect(scan(map(fixstr('s'), str(6)))).toBe('too_large');
    expect(scan(map(fixstr('b'), bin(6)))).toBe('ok');
    expect(scan(map(fixstr('b'), bin(7)))).toBe('too_large');
  });
  it('arrays: how many, items, item length, item budget', () => {
    expect(scan(map(fixstr('l'), list([bin(2), bin(2), bin(2)])))).toBe('ok');
    expect(scan(map(fixstr('l'), list([bin(2), bin(2), bin(2), bin(2)])))).toBe('too_large');
    expect(scan(map(fixstr('l'), list([bin(3)])))).toBe('too_large');
    expect(scan(map(fixstr('l'), list([bin(1)]), fixstr('m'), list([bin(1)])))).toBe('bad_field');
    expect(() => scanMessage(map(fixstr('l'), list([bin(1), bin(1), bin(1)])), { ...shape, maxItems: 1 + 2 + 2 })).toThrow(expect.objectContaining({ code: 'too_large' }));
    expect(() => scanMessage(map(fixstr('l'), list([bin(1), bin(1), bin(1)])), { ...shape, maxItems: 1 + 2 + 3 })).not.toThrow();
  });
  it('declared lengths against the bytes that remain, and trailing bytes', () => {
    const whole = map(fixstr('b'), bin(6));
    expect(scan(whole.subarray(0, whole.length - 1))).toBe('malformed');
    expect(scan(cat(whole, [0xc0]))).toBe('malformed');
    expect(scan(new Uint8Array(0))).toBe('malformed');
  });
});

// ---------------------------------------------------------------------------------------
// Valid messages of every type, generated from the schemas, still round-trip

const SMALL = 48;
function valueOf(spec: FieldSpec): fc.Arbitrary<unknown> {
  switch (spec.kind) {
    case 'uint':
      return fc.oneof(fc.integer({ min: spec.min ?? 0, max: Math.min(spec.max, 1000) }), fc.constant(spec.max), fc.integer({ min: spec.min ?? 0, max: spec.max }));
    case 'float':
      return fc.double({ min: spec.min, max: spec.max, noNaN: true, noDefaultInfinity: true });
    case 'bool':
      return fc.boolean();
    case 'str':
      if (spec.values) return fc.constantFrom(...spec.values);
      // At the limit in three-byte characters too: the scan's byte bound must not refuse it.
      return fc.oneof(fc.string({ unit: 'binary', maxLength: Math.min(spec.maxLength, SMALL) }), fc.constant('€'.repeat(spec.maxLength)));
    case 'bin': {
      const step = spec.multipleOf ?? 1;
      if (spec.exactLength !== undefined) return fc.uint8Array({ minLength: spec.exactLength, maxLength: spec.exactLength });
      return fc.nat(Math.floor(Math.min(spec.maxLength, SMALL * step) / step)).chain((n) => fc.uint8Array({ minLength: n * step, maxLength: n * step }));
    }
    case 'binList':
      return fc.array(fc.uint8Array({ maxLength: Math.min(spec.maxItemLength, SMALL) }), { maxLength: Math.min(spec.maxItems, 20) });
  }
}
const messageOf = (type: string, schema: MessageSchema) =>
  fc.record<Record<string, unknown>>(
    { t: fc.constant(type) as fc.Arbitrary<unknown>, ...Object.fromEntries(Object.entries(schema).map(([name, spec]) => [name, valueOf(spec)])) },
    { requiredKeys: ['t', ...Object.entries(schema).filter(([, spec]) => !spec.optional).map(([name]) => name)] },
  );

describe('valid messages of every type still decode', () => {
  for (const set of ['psi', 'discovery'] as const) {
    it(`${set}: decode(encode(m)) equals m, for random field values of every type (property)`, () => {
      const { schemas, maxBytes } = sets[set];
      const all = fc.oneof(...Object.entries(schemas).map(([type, schema]) => messageOf(type, schema)));
      const types = new Set(fc.sample(all, 500).map((m) => (m as { t: string }).t));
      expect([...types].sort()).toEqual(Object.keys(schemas).sort());
      fc.assert(
        fc.property(all, (m) => {
          const normalized = JSON.parse(JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));
          const decoded = decodeMessage(encodeMessage(m as { t: string }), schemas, maxBytes);
          expect(JSON.parse(JSON.stringify(decoded, (_k, v) => (v instanceof Uint8Array ? [...v] : v)))).toEqual(normalized);
        }),
        { numRuns: 1500 },
      );
    });
  }

  it('a dir.labels at its bounds: maxQueryItems answers of maxLabelBytes (+ a 2-byte length) each, one byte more refused', () => {
    const limits = { ...DEFAULT_DISCOVERY_LIMITS, maxQueryItems: 10, maxLabelBytes: 100 };
    const schemas = discoverySchemas(limits);
    const labels = new Uint8Array(10 * 102);
    const decoded = decodeMessage<{ t: string; labels: Uint8Array }>(encodeMessage({ t: 'dir.labels', format: 2, labels }), schemas, limits.maxMessageBytes);
    expect(decoded.labels).toHaveLength(labels.length);
    const over = encodeMessage({ t: 'dir.labels', format: 2, labels: new Uint8Array(labels.length + 1) });
    expect(() => decodeMessage(over, schemas, limits.maxMessageBytes)).toThrow(expect.objectContaining({ code: 'too_large' }));
    // 100,000 empty answers are 100,000 bytes in one bin: no list of 100,000 items for the pre-scan.
    const empty = decodeMessage<{ t: string; labels: Uint8Array }>(encodeMessage({ t: 'dir.labels', format: 2, labels: new Uint8Array(DEFAULT_DISCOVERY_LIMITS.maxQueryItems) }), sets.discovery.schemas, sets.discovery.maxBytes);
    expect(empty.labels).toHaveLength(DEFAULT_DISCOVERY_LIMITS.maxQueryItems);
  });
});
