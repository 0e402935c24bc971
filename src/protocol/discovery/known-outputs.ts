/**
 * Incremental sync (issue 10 §4, spec/discovery.md §10): the OPRF outputs a client already
 * has for one (directory identity, epoch, public key). Within an epoch the output of an
 * identifier never changes, so a re-sync evaluates only identifiers it has no output for;
 * the others are checked locally against the snapshot as updated by the (verified) delta.
 * A label is fetched for a new match, and again only when the directory marks that tag as
 * relabeled (dir.delta `relabeled`), or when the client cannot tell (a fresh download, a
 * delta without markers). After a rotation (another epoch or key) nothing here is usable
 * and the book is evaluated once under the new key.
 *
 * Sans-I/O: the caller keeps these (src/client/output-cache.ts, 0600, keyed by a keyed hash
 * of the identifier); this layer only decides. The outputs are as sensitive as the address
 * book: with the epoch's key they test candidate identifiers.
 */
import { DELTA_PREFIX_BYTES } from './messages.js';

export interface KnownMatch {
  readonly userId: string;
  readonly label: Uint8Array;
}

export interface KnownOutput {
  /** The finalized OPRF output of the identifier in this epoch. */
  readonly output: Uint8Array;
  /** The opened label of the last check, when it was a match; undefined: no match (or a filter false positive). */
  readonly match?: KnownMatch;
  /** False for an output whose label was never asked for (a sync cut off after its evaluation): asked at the next sync if it matches. */
  readonly labelChecked: boolean;
}

export interface KnownOutputs {
  /** The directory identity key (undefined for an unsigned directory). */
  readonly identity?: Uint8Array;
  readonly epoch: number;
  readonly publicKey: Uint8Array;
  /** The directory version the labels were last checked at (a delta from it says what changed). */
  readonly version: number;
  readonly entries: ReadonlyMap<string, KnownOutput>;
}

/** Whether `known` was evaluated under exactly this directory's identity, epoch and key. */
export function outputsUsable(known: KnownOutputs | undefined, view: { identity?: Uint8Array; epoch: number; publicKey: Uint8Array }): known is KnownOutputs {
  if (!known || known.epoch !== view.epoch || !sameBytes(known.publicKey, view.publicKey)) return false;
  if ((known.identity === undefined) !== (view.identity === undefined)) return false;
  return known.identity === undefined || sameBytes(known.identity, view.identity!);
}

/** What the client knows about how the snapshot changed since its outputs' last check. */
export interface SnapshotChange {
  /** The snapshot was downloaded afresh: label changes since the last check are unknown. */
  readonly fresh: boolean;
  /** A delta was applied: its added prefixes, and its relabeled ones (undefined: the server did not say). */
  readonly delta?: { readonly added: Uint8Array; readonly relabeled: Uint8Array | undefined };
}

export type LabelDecision = 'fetch' | 'reuse' | 'none';

/**
 * For a known output that the (updated) snapshot contains: fetch its label again, reuse the
 * cached one, or take it as no match as before. A cached match is refetched only when its
 * label may have changed; a known non-match (a false positive of an earlier filter) only
 * when its tag may be new (added by the delta, or a new filter altogether).
 */
export function decideKnown(entry: KnownOutput, change: SnapshotChange, marks: PrefixMarks): LabelDecision {
  if (!entry.labelChecked) return 'fetch';
  if (change.fresh || !change.delta) return change.fresh ? 'fetch' : entry.match ? 'reuse' : 'none';
  if (change.delta.relabeled === undefined) return 'fetch';
  if (entry.match) return marks.relabeled.has(prefixKey(entry.output)) ? 'fetch' : 'reuse';
  return marks.added.has(prefixKey(entry.output)) || marks.relabeled.has(prefixKey(entry.output)) ? 'fetch' : 'none';
}

/**
 * Label keys a session without quotas may send beyond the elements it had evaluated
 * (spec/discovery.md §9; server.ts onLabelsGet enforces it, the client stays within it):
 * the added and relabeled prefixes of the delta served in the session (an honest client
 * asks again only for tags those name, known-outputs decideKnown), and `wide` only once the
 * whole snapshot was downloaded in the session (then every match may be asked again). With
 * nothing downloaded and no delta: none. A lookup costs the server a store read; without
 * this, a session could ask `maxQueryItems` of them without evaluating anything.
 */
export function unpaidLabelAllowance(downloaded: boolean, delta: { readonly added: Uint8Array; readonly relabeled?: Uint8Array } | undefined, wide: number): number {
  if (downloaded) return wide;
  return delta ? (delta.added.length + (delta.relabeled?.length ?? 0)) / DELTA_PREFIX_BYTES : 0;
}

export interface PrefixMarks {
  readonly added: ReadonlySet<string>;
  readonly relabeled: ReadonlySet<string>;
}

export function prefixMarks(change: SnapshotChange): PrefixMarks {
  return { added: prefixSet(change.delta?.added), relabeled: prefixSet(change.delta?.relabeled) };
}

const hex = (b: Uint8Array): string => {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
};

/** The delta prefix of a tag (an OPRF output), as a set key. */
export const prefixKey = (output: Uint8Array): string => hex(output.subarray(0, DELTA_PREFIX_BYTES));

function prefixSet(packed: Uint8Array | undefined): Set<string> {
  const out = new Set<string>();
  if (!packed) return out;
  for (let off = 0; off + DELTA_PREFIX_BYTES <= packed.length; off += DELTA_PREFIX_BYTES) out.add(hex(packed.subarray(off, off + DELTA_PREFIX_BYTES)));
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
