/**
 * Label sealing for a whole batch in packed form, so it can run on a worker thread next to
 * the tag evaluation (src/parallel, op 'evaluateSeal'): user ids (UTF-8) and labels travel
 * as a few byte strings, the seals and lookup keys come back packed, and the caller cuts
 * them into views. Same bytes as seal.ts sealLabelsWith (label format 2 is deterministic: the
 * nonces still travel in the packed form, src/parallel/wire.ts, and are not used).
 */
import { lookupKeyOf, sealLabel } from '../protocol/discovery/labels.js';
import { checkNonces, type LabelToSeal, type SealedLabel } from './seal.js';
import { LOOKUP_KEY_BYTES, MAX_USER_ID_BYTES, nativeSealer, NONCE_BYTES, sealedLength } from './seal-native.js';

/** Byte strings of lengths[i] bytes each, concatenated (the shape of src/parallel's PackedInputs). */
export interface PackedBytes {
  readonly lengths: Uint32Array;
  readonly data: Uint8Array;
}

/** Labels to seal, packed: UTF-8 user ids, labels, and 24-byte nonces, in batch order. */
export interface PackedLabels {
  readonly userIds: PackedBytes;
  readonly labels: PackedBytes;
  readonly nonces: Uint8Array;
}

/** Seals and lookup keys of a packed batch, packed (sealed: sealedLength bytes each, in order). */
export interface PackedSeals {
  readonly lookupKeys: Uint8Array;
  readonly sealed: Uint8Array;
}

const utf8 = new TextEncoder();

/**
 * Throws the error sealLabel throws for a label it refuses (a user id over 65,535 UTF-8
 * bytes), before any work is handed out.
 */
export function checkLabels(labels: readonly LabelToSeal[]): void {
  for (const l of labels) {
    if (Buffer.byteLength(l.userId, 'utf8') > MAX_USER_ID_BYTES) sealLabel(new Uint8Array(64), l);
  }
}

/** Entries [start, end) of a batch, packed in buffers of their own (transferable). */
export function packLabels(labels: readonly LabelToSeal[], nonces: Uint8Array, start = 0, end = labels.length): PackedLabels {
  checkNonces(labels.length, nonces);
  return {
    userIds: packUtf8(labels, start, end),
    labels: pack(labels, start, end),
    nonces: nonces.slice(start * NONCE_BYTES, end * NONCE_BYTES),
  };
}

/** Seals entry i of `labels` under tags[i * tagLength, (i + 1) * tagLength). */
export function sealPacked(tags: Uint8Array, tagLength: number, labels: PackedLabels): PackedSeals {
  const n = labels.userIds.lengths.length;
  if (labels.labels.lengths.length !== n || labels.nonces.length !== n * NONCE_BYTES || tags.length !== n * tagLength) {
    throw new RangeError('packed labels, nonces and tags differ in count');
  }
  let total = 0;
  for (let i = 0; i < n; i++) total += sealedLength(labels.userIds.lengths[i], labels.labels.lengths[i]);
  const sealed = new Uint8Array(total);
  const lookupKeys = new Uint8Array(n * LOOKUP_KEY_BYTES);
  const native = nativeSealer();
  const decoder = new TextDecoder();
  let idAt = 0;
  let labelAt = 0;
  let out = 0;
  for (let i = 0; i < n; i++) {
    const userId = labels.userIds.data.subarray(idAt, (idAt += labels.userIds.lengths[i]));
    const label = labels.labels.data.subarray(labelAt, (labelAt += labels.labels.lengths[i]));
    const tag = tags.subarray(i * tagLength, (i + 1) * tagLength);
    const length = sealedLength(userId.length, label.length);
    if (native !== null && userId.length <= MAX_USER_ID_BYTES) {
      native(tag, userId, label, sealed, out, lookupKeys, i * LOOKUP_KEY_BYTES);
    } else {
      // Decoding the UTF-8 that packLabels made and encoding it again gives the same bytes.
      sealed.set(sealLabel(tag, { userId: decoder.decode(userId), label }), out);
      lookupKeys.set(lookupKeyOf(tag), i * LOOKUP_KEY_BYTES);
    }
    out += length;
  }
  return { lookupKeys, sealed };
}

/** Views of a packed result, one per entry, in order (`labels`: the batch the seals were made for). */
export function splitSeals(parts: readonly PackedSeals[], labels: readonly LabelToSeal[]): SealedLabel[] {
  const out: SealedLabel[] = [];
  let i = 0;
  for (const part of parts) {
    let at = 0;
    for (let k = 0; k < part.lookupKeys.length / LOOKUP_KEY_BYTES; k++, i++) {
      const length = sealedLength(Buffer.byteLength(labels[i].userId, 'utf8'), labels[i].label.length);
      out.push({ lookupKey: part.lookupKeys.subarray(k * LOOKUP_KEY_BYTES, (k + 1) * LOOKUP_KEY_BYTES), sealed: part.sealed.subarray(at, (at += length)) });
    }
  }
  return out;
}

function pack(labels: readonly LabelToSeal[], start: number, end: number): PackedBytes {
  const lengths = new Uint32Array(end - start);
  let total = 0;
  for (let i = start; i < end; i++) total += lengths[i - start] = labels[i].label.length;
  const data = new Uint8Array(total);
  let at = 0;
  for (let i = start; i < end; i++) {
    data.set(labels[i].label, at);
    at += labels[i].label.length;
  }
  return { lengths, data };
}

/** User ids as TextEncoder (sealLabel) encodes them, written in place (no array per id). */
function packUtf8(labels: readonly LabelToSeal[], start: number, end: number): PackedBytes {
  const lengths = new Uint32Array(end - start);
  let total = 0;
  for (let i = start; i < end; i++) total += lengths[i - start] = Buffer.byteLength(labels[i].userId, 'utf8');
  const data = new Uint8Array(total);
  let at = 0;
  for (let i = start; i < end; i++) {
    const { written } = utf8.encodeInto(labels[i].userId, data.subarray(at));
    if (written !== lengths[i - start]) throw new Error('internal: UTF-8 length of a user id changed while packing');
    at += written;
  }
  return { lengths, data };
}
