/**
 * A small declarative schema checker for decoded wire messages. Every field has a type and
 * bounds; a message is accepted only if every field checks and no unknown field is present.
 * Counts and lengths are checked here, before any code allocates per-item state.
 */
import { CodecError } from './errors.js';
import type { MessageShape } from './msgpack-scan.js';

export type FieldSpec =
  | { kind: 'uint'; max: number; min?: number; optional?: boolean }
  | { kind: 'float'; min: number; max: number; optional?: boolean }
  | { kind: 'bool'; optional?: boolean }
  | { kind: 'str'; maxLength: number; values?: readonly string[]; optional?: boolean }
  | { kind: 'bin'; maxLength: number; multipleOf?: number; exactLength?: number; optional?: boolean }
  | { kind: 'binList'; maxItems: number; maxItemLength: number; optional?: boolean };

export type MessageSchema = Readonly<Record<string, FieldSpec>>;

function fail(field: string, why: string, code: 'bad_field' | 'too_large' = 'bad_field'): never {
  throw new CodecError(code, `field "${field}" ${why}`);
}

export function checkField(name: string, spec: FieldSpec, value: unknown): void {
  if (value === undefined) {
    if (spec.optional) return;
    fail(name, 'is missing');
  }
  switch (spec.kind) {
    case 'uint':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (spec.min ?? 0)) fail(name, 'is not a valid unsigned integer');
      if (value > spec.max) fail(name, `exceeds the limit ${spec.max}`, 'too_large');
      return;
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < spec.min || value > spec.max) {
        fail(name, `must be a number in [${spec.min}, ${spec.max}]`);
      }
      return;
    case 'bool':
      if (typeof value !== 'boolean') fail(name, 'is not a boolean');
      return;
    case 'str':
      if (typeof value !== 'string') fail(name, 'is not a string');
      if (value.length > spec.maxLength) fail(name, `is longer than ${spec.maxLength}`, 'too_large');
      if (spec.values && !spec.values.includes(value)) fail(name, `is not one of ${spec.values.join(', ')}`);
      return;
    case 'bin':
      if (!(value instanceof Uint8Array)) fail(name, 'is not a byte string');
      if (value.length > spec.maxLength) fail(name, `is longer than ${spec.maxLength} bytes`, 'too_large');
      if (spec.exactLength !== undefined && value.length !== spec.exactLength) fail(name, `must be ${spec.exactLength} bytes`);
      if (spec.multipleOf !== undefined && value.length % spec.multipleOf !== 0) fail(name, `length is not a multiple of ${spec.multipleOf}`);
      return;
    case 'binList':
      if (!Array.isArray(value)) fail(name, 'is not an array');
      if (value.length > spec.maxItems) fail(name, `has more than ${spec.maxItems} items`, 'too_large');
      for (const item of value) {
        if (!(item instanceof Uint8Array)) fail(name, 'holds a non-bytes item');
        if (item.length > spec.maxItemLength) fail(name, `holds an item longer than ${spec.maxItemLength}`, 'too_large');
      }
      return;
  }
}

export function checkMessage(fields: Map<string, unknown>, schema: MessageSchema, type: string): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const key of fields.keys()) {
    // Own fields only: `in` would also find "constructor", "toString", "__proto__" on the
    // prototype, and accept them as known fields.
    if (!Object.hasOwn(schema, key)) throw new CodecError('bad_field', `unknown field "${key}" in ${type}`);
  }
  for (const [name, spec] of Object.entries(schema)) {
    const value = fields.get(name);
    checkField(name, spec, value);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** What the version and type fields take, beside the schema's own fields. */
const ENVELOPE_KEYS = ['v', 't'] as const;
/** A JS string of n UTF-16 code units is at most 3n bytes of UTF-8 (a 4-byte sequence is 2 units). */
const UTF8_BYTES_PER_UNIT = 3;

const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

/**
 * The most any message of `schemas` can hold, for the structural pre-scan
 * (msgpack-scan.ts): derived from the schemas themselves, so the pre-scan and the schema
 * check can never disagree about which shapes exist. Loose where a bound depends on the
 * type (the type is only known after the scan): it takes the largest over all types; the
 * schema check then applies the exact bound of the message's type.
 */
export function shapeOfSchemas(schemas: Readonly<Record<string, MessageSchema>>, version: number): MessageShape {
  let fields = 0;
  let keyBytes = Math.max(...ENVELOPE_KEYS.map(utf8Length));
  let strUnits = 0;
  let binBytes = 0;
  let lists = 0;
  let listItems = 0;
  let listItemBytes = 0;
  for (const [type, schema] of Object.entries(schemas)) {
    const names = Object.keys(schema);
    fields = Math.max(fields, names.length);
    strUnits = Math.max(strUnits, type.length);
    let listsHere = 0;
    for (const name of names) {
      keyBytes = Math.max(keyBytes, utf8Length(name));
      const spec = schema[name]!;
      if (spec.kind === 'str') strUnits = Math.max(strUnits, spec.maxLength);
      else if (spec.kind === 'bin') binBytes = Math.max(binBytes, spec.maxLength);
      else if (spec.kind === 'binList') {
        listsHere++;
        listItems = Math.max(listItems, spec.maxItems);
        listItemBytes = Math.max(listItemBytes, spec.maxItemLength);
      }
    }
    lists = Math.max(lists, listsHere);
  }
  const maxKeys = fields + ENVELOPE_KEYS.length;
  return Object.freeze({
    maxKeys,
    maxKeyBytes: keyBytes,
    maxStrBytes: strUnits * UTF8_BYTES_PER_UNIT,
    maxBinBytes: binBytes,
    maxLists: lists,
    maxListItems: listItems,
    maxListItemBytes: listItemBytes,
    // The map, its keys and values, and every array item.
    maxItems: 1 + 2 * maxKeys + lists * listItems,
    version: Object.freeze({ key: ENVELOPE_KEYS[0], value: version }),
  });
}
