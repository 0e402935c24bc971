import { GroupError } from '../errors.js';

/** Number of elements in a packed batch; rejects a length that is not a whole multiple. */
export function packedCount(packed: Uint8Array, elementSize: number): number {
  if (!(packed instanceof Uint8Array) || packed.length % elementSize !== 0) {
    throw new GroupError('bad_length', `packed batch length is not a multiple of ${elementSize}`);
  }
  return packed.length / elementSize;
}

/** A view (no copy) of element i of a packed batch. */
export function elementAt(packed: Uint8Array, i: number, elementSize: number): Uint8Array {
  return packed.subarray(i * elementSize, (i + 1) * elementSize);
}

export function packElements(elements: readonly Uint8Array[], elementSize: number): Uint8Array {
  const out = new Uint8Array(elements.length * elementSize);
  elements.forEach((e, i) => out.set(e, i * elementSize));
  return out;
}

export function splitPacked(packed: Uint8Array, elementSize: number): Uint8Array[] {
  const n = packedCount(packed, elementSize);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(elementAt(packed, i, elementSize));
  return out;
}
