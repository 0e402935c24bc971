/**
 * A structural pre-scan of one wire message, run on the raw bytes BEFORE msgpackr builds
 * anything (spec/protocol.md §2, "Decoding bounds"). msgpack lets a few bytes declare
 * millions of objects (`0xdd <n> 0x80 0x80 …`: an array32 of empty maps costs one byte on
 * the wire and ~80 bytes of heap each), so a decoder that materialises first and checks
 * later spends memory chosen by the sender. This scan accepts only the shapes a message
 * of this protocol can have, with every count and length bounded by the schemas:
 *
 * - the top level is one map (fixmap, map16, map32) of at most `maxKeys` entries;
 * - keys are str of at most `maxKeyBytes` bytes, each key at most once;
 * - values are nil, bool, int, float, str (≤ `maxStrBytes`), bin (≤ `maxBinBytes`), or,
 *   at most `maxLists` times, one array of at most `maxListItems` bin items (each
 *   ≤ `maxListItemBytes`); nothing nested deeper, no extension types;
 * - every declared length is checked against the bytes that remain BEFORE it is used;
 * - at most `maxItems` msgpack objects in all; no trailing bytes.
 *
 * Time is O(number of objects) ≤ O(bytes) (str and bin bodies are skipped by length),
 * extra memory O(maxKeys). Pure: no Node APIs, so it runs in browsers.
 */
import { CodecError } from './errors.js';
import type { ProtocolErrorCode } from './errors.js';

/** The most a message may hold, derived from the schemas (schema.ts `shapeOfSchemas`). */
export interface MessageShape {
  /** Entries of the top-level map (every field of the largest schema, plus `v` and `t`). */
  readonly maxKeys: number;
  /** UTF-8 bytes of a key (the longest field name). */
  readonly maxKeyBytes: number;
  /** UTF-8 bytes of a str value. */
  readonly maxStrBytes: number;
  /** Bytes of a bin value. */
  readonly maxBinBytes: number;
  /** Arrays per message (0: no array anywhere). */
  readonly maxLists: number;
  /** Items of one array (all bin). */
  readonly maxListItems: number;
  /** Bytes of one bin item of an array. */
  readonly maxListItemBytes: number;
  /** msgpack objects per message, the map, its keys, values and array items all counted. */
  readonly maxItems: number;
  /**
   * The version field. A shape refused after this key was seen with another value is
   * reported as `bad_version`, not `bad_field`: the shapes are those of this version, and a
   * peer speaking another one must learn that, whatever its messages look like.
   */
  readonly version?: { readonly key: string; readonly value: number };
}

type Kind = 'nil' | 'bool' | 'int' | 'float' | 'str' | 'bin' | 'array' | 'map' | 'ext' | 'never';

const utf8 = new TextEncoder();

/** Walks the bytes of one message; one instance per call, a handful of numbers of state. */
class Scanner {
  pos = 0;
  /** Of the last header read: its kind, and its length (str, bin, ext) or count (array, map). */
  kind: Kind = 'never';
  len = 0;
  private foreignVersion = false;
  private readonly end: number;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly shape: MessageShape,
  ) {
    this.end = bytes.length;
  }

  malformed(why: string): never {
    throw new CodecError('malformed', why);
  }

  /** A shape this protocol version does not allow; see MessageShape.version. */
  refuse(code: ProtocolErrorCode, why: string): never {
    if (this.foreignVersion) throw new CodecError('bad_version', `protocol version is not supported (and ${why})`);
    throw new CodecError(code, why);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (n > this.end - this.pos) this.malformed(`truncated message: ${n} bytes declared at offset ${this.pos}, ${this.end - this.pos} remain`);
  }

  /** Big-endian unsigned integer of `n` (1, 2, 4) bytes at pos; advances. */
  private uint(n: 1 | 2 | 4): number {
    this.need(n);
    const b = this.bytes;
    const p = this.pos;
    this.pos += n;
    if (n === 1) return b[p]!;
    if (n === 2) return (b[p]! << 8) | b[p + 1]!;
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  /**
   * Reads one header: sets kind and len, and leaves pos at the body (str, bin, ext: the
   * bytes; array, map: the first element). Scalars are skipped whole. Never allocates.
   */
  header(): Kind {
    this.read();
    return this.kind;
  }

  private read(): void {
    this.need(1);
    const t = this.bytes[this.pos++]!;
    this.len = 0;
    if (t <= 0x7f || t >= 0xe0) return this.fixed('int', 0);
    if (t <= 0x8f) return this.container('map', t & 0x0f);
    if (t <= 0x9f) return this.container('array', t & 0x0f);
    if (t <= 0xbf) return this.body('str', t & 0x1f);
    switch (t) {
      case 0xc0: return this.fixed('nil', 0);
      case 0xc1: return this.fixed('never', 0);
      case 0xc2: case 0xc3: return this.fixed('bool', 0);
      case 0xc4: return this.body('bin', this.uint(1));
      case 0xc5: return this.body('bin', this.uint(2));
      case 0xc6: return this.body('bin', this.uint(4));
      case 0xc7: return this.ext(this.uint(1));
      case 0xc8: return this.ext(this.uint(2));
      case 0xc9: return this.ext(this.uint(4));
      case 0xca: return this.fixed('float', 4);
      case 0xcb: return this.fixed('float', 8);
      case 0xcc: case 0xd0: return this.fixed('int', 1);
      case 0xcd: case 0xd1: return this.fixed('int', 2);
      case 0xce: case 0xd2: return this.fixed('int', 4);
      case 0xcf: case 0xd3: return this.fixed('int', 8);
      case 0xd4: return this.ext(1);
      case 0xd5: return this.ext(2);
      case 0xd6: return this.ext(4);
      case 0xd7: return this.ext(8);
      case 0xd8: return this.ext(16);
      case 0xd9: return this.body('str', this.uint(1));
      case 0xda: return this.body('str', this.uint(2));
      case 0xdb: return this.body('str', this.uint(4));
      case 0xdc: return this.container('array', this.uint(2));
      case 0xdd: return this.container('array', this.uint(4));
      case 0xde: return this.container('map', this.uint(2));
      default: return this.container('map', this.uint(4)); // 0xdf
    }
  }

  private fixed(kind: Kind, size: number): void {
    this.need(size);
    this.kind = kind;
    this.pos += size;
  }
  private body(kind: Kind, len: number): void {
    this.kind = kind;
    this.len = len;
  }
  private container(kind: Kind, count: number): void {
    this.kind = kind;
    this.len = count;
  }
  private ext(len: number): void {
    this.kind = 'ext';
    this.len = len;
  }

  /** Skips a str or bin body of `len` bytes, after checking it is there. */
  skipBody(): void {
    this.need(this.len);
    this.pos += this.len;
  }

  /** Whether the scalar at pos (not consumed) is the number `value`; false for non-numbers. */
  numberAt(value: number): boolean {
    const b = this.bytes;
    const p = this.pos;
    if (p >= this.end) return false;
    const t = b[p]!;
    if (t <= 0x7f) return t === value;
    if (t >= 0xe0) return t - 0x100 === value;
    const size = t === 0xcc || t === 0xd0 ? 1 : t === 0xcd || t === 0xd1 ? 2 : t === 0xce || t === 0xd2 || t === 0xca ? 4 : t === 0xcf || t === 0xd3 || t === 0xcb ? 8 : 0;
    if (size === 0 || p + 1 + size > this.end) return false;
    const view = new DataView(b.buffer, b.byteOffset + p + 1, size);
    switch (t) {
      case 0xcc: return view.getUint8(0) === value;
      case 0xd0: return view.getInt8(0) === value;
      case 0xcd: return view.getUint16(0) === value;
      case 0xd1: return view.getInt16(0) === value;
      case 0xce: return view.getUint32(0) === value;
      case 0xd2: return view.getInt32(0) === value;
      case 0xca: return view.getFloat32(0) === value;
      case 0xcb: return view.getFloat64(0) === value;
      case 0xcf: return Number(view.getBigUint64(0)) === value;
      default: return Number(view.getBigInt64(0)) === value; // 0xd3
    }
  }

  markForeignVersion(): void {
    this.foreignVersion = true;
  }
}

/** Whether bytes[a, a+len) equals bytes[b, b+len). */
function sameBytes(bytes: Uint8Array, a: number, b: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}

/**
 * Checks that `bytes` is one message of `shape` (see the file comment); throws a
 * CodecError otherwise: `malformed` (not msgpack, not a map, a non-string key, truncated,
 * trailing bytes), `too_large` (a count or length over the shape's bound), `bad_field` (a
 * value of a type no field has: a nested map, an array where none is allowed, an
 * extension, a repeated or impossible key), or `bad_version` (see MessageShape.version).
 */
export function scanMessage(bytes: Uint8Array, shape: MessageShape): void {
  const s: Scanner = new Scanner(bytes, shape);
  if (bytes.length === 0) s.malformed('empty message');
  if (s.header() !== 'map') s.malformed('message is not a msgpack map');
  const count = s.len;
  if (count > shape.maxKeys) s.refuse('too_large', `message map of ${count} entries exceeds the ${shape.maxKeys} any message type has`);
  // Each entry is at least two bytes (a fixstr key and a one-byte value).
  if (count * 2 > s.remaining) s.malformed(`truncated message: a map of ${count} entries in ${s.remaining} bytes`);
  let items = 1 + 2 * count;
  if (items > shape.maxItems) s.refuse('too_large', `message of ${items} msgpack objects exceeds the budget ${shape.maxItems}`);
  const versionKey = shape.version ? utf8.encode(shape.version.key) : undefined;
  // Offsets and lengths of the keys seen, to refuse a repeated key (msgpackr would keep the
  // last, another decoder the first: two readings of one message). At most maxKeys entries.
  const keyStart = new Array<number>(count);
  const keyLength = new Array<number>(count);
  let lists = 0;
  for (let i = 0; i < count; i++) {
    if (s.header() !== 'str') s.malformed('message map has a non-string key');
    const keyLen = s.len;
    const at = s.pos;
    s.skipBody();
    if (keyLen > shape.maxKeyBytes) s.refuse('bad_field', `a field name of ${keyLen} bytes (no field is longer than ${shape.maxKeyBytes})`);
    for (let j = 0; j < i; j++) {
      if (keyLength[j] === keyLen && sameBytes(bytes, keyStart[j]!, at, keyLen)) s.refuse('bad_field', 'a field appears twice in the message map');
    }
    keyStart[i] = at;
    keyLength[i] = keyLen;
    if (versionKey && keyLen === versionKey.length && versionKeyAt(bytes, at, versionKey)) {
      if (!s.numberAt(shape.version!.value)) s.markForeignVersion();
    }
    switch (s.header()) {
      case 'nil':
      case 'bool':
      case 'int':
      case 'float':
        break;
      case 'str':
        if (s.len > shape.maxStrBytes) s.refuse('too_large', `a string of ${s.len} bytes exceeds the ${shape.maxStrBytes} any field takes`);
        s.skipBody();
        break;
      case 'bin':
        if (s.len > shape.maxBinBytes) s.refuse('too_large', `a byte string of ${s.len} bytes exceeds the ${shape.maxBinBytes} any field takes`);
        s.skipBody();
        break;
      case 'array': {
        if (lists >= shape.maxLists) s.refuse('bad_field', shape.maxLists === 0 ? 'an array, which no field of these messages takes' : `more than ${shape.maxLists} arrays in one message`);
        lists++;
        const n = s.len;
        if (n > shape.maxListItems) s.refuse('too_large', `an array of ${n} items exceeds the ${shape.maxListItems} any field takes`);
        // Every item is at least one byte: a count the bytes cannot hold is refused whole.
        if (n > s.remaining) s.malformed(`truncated message: an array of ${n} items in ${s.remaining} bytes`);
        items += n;
        if (items > shape.maxItems) s.refuse('too_large', `message of ${items} msgpack objects exceeds the budget ${shape.maxItems}`);
        for (let k = 0; k < n; k++) {
          const item = s.header();
          if (item === 'never') s.malformed('the byte 0xc1, which msgpack never uses');
          if (item !== 'bin') s.refuse('bad_field', 'an array holds something other than a byte string');
          if (s.len > shape.maxListItemBytes) s.refuse('too_large', `an array item of ${s.len} bytes exceeds the ${shape.maxListItemBytes} any field takes`);
          s.skipBody();
        }
        break;
      }
      case 'map':
        return s.refuse('bad_field', 'a field holds a nested map');
      case 'ext':
        return s.refuse('bad_field', 'a field holds a msgpack extension type, which the protocol never uses');
      default:
        return s.malformed('the byte 0xc1, which msgpack never uses');
    }
  }
  if (s.remaining !== 0) s.malformed(`${s.remaining} trailing bytes after the message map`);
}

function versionKeyAt(bytes: Uint8Array, at: number, key: Uint8Array): boolean {
  for (let i = 0; i < key.length; i++) if (bytes[at + i] !== key[i]) return false;
  return true;
}
