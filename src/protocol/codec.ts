/**
 * The wire codec: msgpack via msgpackr with the records extension off, so any msgpack
 * library (Kotlin, Swift, Rust) can read and write the messages. Decoding is strict: the
 * size limit is checked before parsing; a structural pre-scan of the raw bytes
 * (msgpack-scan.ts) refuses any shape the schemas cannot hold before msgpackr builds a
 * single object, so decoding costs memory and CPU bounded by the schemas, not by what the
 * sender declares; the result must be a map with the supported version and a known type,
 * and it must match that type's schema. Any failure is a CodecError with a code; nothing
 * else escapes.
 */
import { Packr } from 'msgpackr';
import { CodecError } from './errors.js';
import { scanMessage, type MessageShape } from './msgpack-scan.js';
import { checkMessage, shapeOfSchemas, type MessageSchema } from './schema.js';

export const WIRE_VERSION = 1;

// Maps decode as Map (not objects), so a "__proto__" key is inert data, and no msgpack
// extension (records, bundled strings) is ever produced.
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: false,
  moreTypes: false,
  bundleStrings: false,
  encodeUndefinedAsNil: false,
  int64AsType: 'number',
  useFloat32: 0,
  // fixmap for small maps (the map16 header msgpackr uses by default wastes two bytes).
  variableMapSize: true,
});

export type WireMessage = { t: string };

/** Encode a message: a plain object becomes a msgpack map with `v` and `t` first. */
export function encodeMessage<M extends WireMessage>(message: M): Uint8Array {
  const body: Record<string, unknown> = { v: WIRE_VERSION };
  for (const [key, value] of Object.entries(message as Record<string, unknown>)) {
    if (value !== undefined) body[key] = value;
  }
  const bytes = packr.pack(body);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// One shape per schema set (a session keeps its schemas object for its whole life).
const shapes = new WeakMap<object, MessageShape>();

/** The bounds the pre-scan applies for `schemas` (spec/protocol.md §2, "Decoding bounds"). */
export function messageShape(schemas: Readonly<Record<string, MessageSchema>>): MessageShape {
  let shape = shapes.get(schemas);
  if (!shape) {
    shape = shapeOfSchemas(schemas, WIRE_VERSION);
    shapes.set(schemas, shape);
  }
  return shape;
}

export interface DecodeOptions {
  /**
   * Types of this protocol that exist but are not in `schemas` because the decoding side
   * never receives them (a server is never sent `dir.labels`): such a message is refused
   * as `unexpected_message`, not `unknown_type`. Only `schemas` shape the pre-scan, so a
   * peer cannot make us materialise a shape only the other direction carries (issue 9 §1:
   * a 200 KB `dir.labels` of 100,000 empty byte strings sent to a server).
   */
  readonly otherTypes?: Readonly<Record<string, unknown>>;
}

/** Decode and validate against the schema of its type. */
export function decodeMessage<M extends WireMessage>(
  bytes: Uint8Array,
  schemas: Readonly<Record<string, MessageSchema>>,
  maxBytes: number,
  options: DecodeOptions = {},
): M {
  if (!(bytes instanceof Uint8Array)) throw new CodecError('malformed', 'message is not bytes');
  if (bytes.length > maxBytes) throw new CodecError('too_large', `message of ${bytes.length} bytes exceeds the limit ${maxBytes}`);
  // Before msgpackr: only shapes the schemas can hold, every declared length checked.
  scanMessage(bytes, messageShape(schemas));
  let decoded: unknown;
  try {
    decoded = packr.unpack(bytes);
  } catch (err) {
    throw new CodecError('malformed', `not a msgpack message: ${(err as Error).message}`, { cause: err });
  }
  if (!(decoded instanceof Map)) throw new CodecError('malformed', 'message is not a msgpack map');
  for (const key of decoded.keys()) {
    if (typeof key !== 'string') throw new CodecError('malformed', 'message map has a non-string key');
  }
  const version = decoded.get('v');
  if (version !== WIRE_VERSION) throw new CodecError('bad_version', `protocol version ${String(version)} is not supported`);
  const type = decoded.get('t');
  if (typeof type === 'string' && !Object.hasOwn(schemas, type) && options.otherTypes && Object.hasOwn(options.otherTypes, type)) {
    throw new CodecError('unexpected_message', `${type} is never sent to this side`);
  }
  if (typeof type !== 'string' || !Object.hasOwn(schemas, type)) {
    throw new CodecError('unknown_type', `unknown message type ${JSON.stringify(String(type)).slice(0, 40)}`);
  }
  decoded.delete('v');
  decoded.delete('t');
  const fields = checkMessage(decoded, schemas[type], type);
  // msgpackr hands out Buffers in Node; normalize to plain Uint8Array views so equality
  // and behaviour are the same in every runtime.
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Uint8Array && value.constructor !== Uint8Array) {
      fields[key] = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    }
  }
  return { t: type, ...fields } as unknown as M;
}
