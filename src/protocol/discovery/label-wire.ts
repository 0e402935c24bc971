/**
 * The label fields of `dir.labels.get` and `dir.labels` (label format 2, spec/discovery.md §2):
 *
 * - `keys`: the 8-byte wire lookup keys, packed;
 * - `labels`: one answer per key, in order, each `varint(n) || n bytes` (n = 0: no label),
 *   so a 52-byte seal costs 1 byte of framing instead of a msgpack bin header's 2;
 * - `more` (only when two directory entries share a wire key): further candidates, each
 *   `varint(key index) || varint(n) || n bytes`, key indexes non-decreasing, at most
 *   MAX_LABELS_PER_LOOKUP_KEY candidates per key in all. The client keeps the one that opens.
 *
 * Parsing is bounded by the message (already within maxMessageBytes): every length is read
 * before its bytes and checked against what is left; nothing is copied.
 */
import { ProtocolError } from '../errors.js';
import { MAX_LABELS_PER_LOOKUP_KEY, readVarint, varintBytes, WIRE_LOOKUP_KEY_BYTES, writeVarint } from './labels.js';

/** Longest varint of a length or index on the wire: 5 bytes reach 2^35 - 1, past any message. */
const MAX_LENGTH_VARINT = 5;

/** The wire keys of a dir.labels.get, one view each. */
export function splitWireKeys(packed: Uint8Array): Uint8Array[] {
  const keys: Uint8Array[] = [];
  for (let off = 0; off + WIRE_LOOKUP_KEY_BYTES <= packed.length; off += WIRE_LOOKUP_KEY_BYTES) keys.push(packed.subarray(off, off + WIRE_LOOKUP_KEY_BYTES));
  return keys;
}

export interface PackedAnswers {
  readonly labels: Uint8Array;
  /** Present only when some key has more than one candidate. */
  readonly more?: Uint8Array;
  /** Candidates left out: longer than `maxLabelBytes` (a client refuses them), or past MAX_LABELS_PER_LOOKUP_KEY. */
  readonly dropped: number;
}

/** Packs the server's answer: the candidates found for each key, in key order. */
export function packLabelAnswers(candidates: readonly (readonly Uint8Array[])[], maxLabelBytes: number): PackedAnswers {
  let dropped = 0;
  const kept = candidates.map((list) => {
    const ok = list.filter((s) => s.length > 0 && s.length <= maxLabelBytes);
    dropped += list.length - ok.length;
    if (ok.length > MAX_LABELS_PER_LOOKUP_KEY) {
      dropped += ok.length - MAX_LABELS_PER_LOOKUP_KEY;
      return ok.slice(0, MAX_LABELS_PER_LOOKUP_KEY);
    }
    return ok;
  });
  let size = 0;
  let moreSize = 0;
  kept.forEach((list, i) => {
    const first = list[0]?.length ?? 0;
    size += varintBytes(first) + first;
    for (const s of list.slice(1)) moreSize += varintBytes(i) + varintBytes(s.length) + s.length;
  });
  const labels = new Uint8Array(size);
  const more = moreSize > 0 ? new Uint8Array(moreSize) : undefined;
  let at = 0;
  let moreAt = 0;
  kept.forEach((list, i) => {
    const first = list[0];
    at = writeVarint(labels, at, first?.length ?? 0);
    if (first) {
      labels.set(first, at);
      at += first.length;
    }
    for (const s of list.slice(1)) {
      moreAt = writeVarint(more!, moreAt, i);
      moreAt = writeVarint(more!, moreAt, s.length);
      more!.set(s, moreAt);
      moreAt += s.length;
    }
  });
  return { labels, more, dropped };
}

const malformed = (why: string): ProtocolError => new ProtocolError('bad_field', `dir.labels: ${why}`);

/**
 * The candidates of each of `keyCount` keys (empty list: no label), as views into the
 * message. Refuses (`bad_field`) an answer that does not split exactly into `keyCount`
 * items, extras out of order or past MAX_LABELS_PER_LOOKUP_KEY per key, or for a key with
 * no first candidate. Item sizes are not judged here (the client drops oversized ones).
 */
export function unpackLabelAnswers(labels: Uint8Array, more: Uint8Array | undefined, keyCount: number): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  let at = 0;
  for (let i = 0; i < keyCount; i++) {
    const length = readVarint(labels, at, labels.length, MAX_LENGTH_VARINT);
    if (length === undefined) throw malformed(`answer ${i} has no valid length`);
    const [n, start] = length;
    if (n > labels.length - start) throw malformed(`answer ${i} runs past the end`);
    out.push(n === 0 ? [] : [labels.subarray(start, start + n)]);
    at = start + n;
  }
  if (at !== labels.length) throw malformed('bytes after the last answer');
  if (more === undefined) return out;
  let last = 0;
  at = 0;
  while (at < more.length) {
    const index = readVarint(more, at, more.length, MAX_LENGTH_VARINT);
    if (index === undefined || index[0] >= keyCount || index[0] < last) throw malformed('an extra candidate names no key, or is out of order');
    const length = readVarint(more, index[1], more.length, MAX_LENGTH_VARINT);
    if (length === undefined || length[0] === 0 || length[0] > more.length - length[1]) throw malformed('an extra candidate has no valid length');
    const list = out[index[0]];
    if (list.length === 0 || list.length >= MAX_LABELS_PER_LOOKUP_KEY) throw malformed('too many candidates for one key, or extras without a first one');
    list.push(more.subarray(length[1], length[1] + length[0]));
    last = index[0];
    at = length[1] + length[0];
  }
  return out;
}
