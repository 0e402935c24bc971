/**
 * Tag deltas: what a client with a cached snapshot needs to catch up. The store logs every
 * addition and removal of a tag of the current epoch as (version, 8-byte prefix, op); a
 * delta is the NET change over a version range, so a tag removed and added again shows up
 * once (as added, which is harmless: it is in the fresh snapshot) and a tag added and
 * removed again not at all. A label change of a tag is logged as a `removed` + `added` pair
 * of its prefix at the change's version (no op of its own: the log's schema is unchanged);
 * net, such a tag is in `relabeled`. 8 bytes are what a client compares (protocol/discovery
 * delta.ts): a false match needs a 64-bit prefix collision among the changed tags.
 */
export const TAG_PREFIX_BYTES = 8;

export type TagOp = 'added' | 'removed';

export interface TagLogRow {
  readonly prefix: Uint8Array;
  readonly op: TagOp;
}

export const tagPrefix = (tag: Uint8Array): Uint8Array => tag.slice(0, TAG_PREFIX_BYTES);

// latin1 maps each byte to one UTF-16 unit of the same value, so string order = byte order.
const keyOf = (prefix: Uint8Array): string => Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength).toString('latin1');

/**
 * The net change of log rows in log order. Rows of one tag alternate (the store logs only
 * real changes of its tag set), so the first op tells whether the tag was there at the
 * start (a removal comes first) and the last op whether it is there at the end.
 */
export function netTagDelta(rows: Iterable<TagLogRow>): { added: Uint8Array; removed: Uint8Array; relabeled: Uint8Array } {
  const seen = new Map<string, { first: TagOp; last: TagOp }>();
  for (const row of rows) {
    const key = keyOf(row.prefix);
    const entry = seen.get(key);
    if (entry === undefined) seen.set(key, { first: row.op, last: row.op });
    else entry.last = row.op;
  }
  const added: string[] = [];
  const removed: string[] = [];
  const relabeled: string[] = [];
  for (const [key, { first, last }] of seen) {
    // Exact net change: a tag removed and added again was there at both ends, so it is in
    // neither list (clients move the signed tag-set commitment by exactly these lists,
    // spec/verifiability.md §1; one listed as added would be counted twice).
    if (first === 'added' && last === 'added') added.push(key); // gone at the start, there at the end
    else if (first === 'removed' && last === 'removed') removed.push(key); // there at the start, gone at the end
    // There at both ends, removed in between: its label may have changed (a re-seal is logged
    // as a removed + added pair, and so is an identifier moving to another user), so clients
    // holding its label fetch it again (issue 10 §4, dir.delta `relabeled`).
    else if (first === 'removed' && last === 'added') relabeled.push(key);
  }
  return { added: pack(added), removed: pack(removed), relabeled: pack(relabeled) };
}

function pack(keys: string[]): Uint8Array {
  keys.sort();
  const out = new Uint8Array(keys.length * TAG_PREFIX_BYTES);
  keys.forEach((key, i) => out.set(Buffer.from(key, 'latin1'), i * TAG_PREFIX_BYTES));
  return out;
}
