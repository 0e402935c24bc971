/**
 * The Group methods of additive blinding (types.ts hashToGroupAddBase, decodePacked,
 * compositePair, subtractBaseFromDecoded) on the four-lane SIMD module's fixed-base comb
 * (fixed-base-x4.ts) and the WebAssembly MSM: what sodium-group.ts adds when both load.
 * The decoded form is the module's affine coordinates (x || y, 64 bytes per element).
 */
import { GroupError } from '../errors.js';
import type { Group } from './types.js';
import type { WasmMsm } from './wasm-msm.js';
import type { WasmX4 } from './wasm-x4.js';
import { PAIR_MIN_POINTS } from './composites-x4.js';

type AdditiveMethods = Pick<Group, 'hashToGroupAddBase' | 'decodePacked' | 'compositePair' | 'subtractBaseFromDecoded'>;

export interface AdditiveX4Deps {
  /** expand_message_xmd (64 bytes) of each message, packed: the one-way map's input. */
  readonly expandEach: (msgs: readonly Uint8Array[], dst: Uint8Array) => Uint8Array;
  /** The group's own validatePacked: names the first bad element when the fast check fails. */
  readonly validatePacked: (packed: Uint8Array) => number;
}

export function additiveX4(x4: WasmX4 | null, msm: WasmMsm | null, deps: AdditiveX4Deps): AdditiveMethods {
  if (x4 === null || msm === null) return {};
  const fb = x4.fixedBase;
  return {
    hashToGroupAddBase(scalars, msgs, dst) {
      const uniform = deps.expandEach(msgs, dst);
      try {
        return fb.hashAddBaseEach(scalars, uniform);
      } finally {
        uniform.fill(0); // H(contacts): secret
      }
    },
    decodePacked(packed) {
      const { firstInvalid, xy } = x4.validateXY(packed);
      if (firstInvalid >= 0 || xy === null) {
        deps.validatePacked(packed); // throws the named error
        throw new GroupError('bad_element', `element at index ${firstInvalid} is not a canonical encoding of a group element`);
      }
      return xy;
    },
    compositePair(weights, c, d) {
      // One paired pass from PAIR_MIN_POINTS on (composites-x4.ts), else two one-lane MSMs.
      if (c.length / 64 >= PAIR_MIN_POINTS) return x4.compositePair(weights, c, d);
      return { m: msmOrNull(msm, weights, c), z: msmOrNull(msm, weights, d) };
    },
    subtractBaseFromDecoded: (base, scalars, decoded) => fb.subBaseEachFromXY(base, scalars, decoded),
  };
}

/** msmAffine, with null for an identity sum (a slice's partial sum may be the identity). */
function msmOrNull(msm: WasmMsm, weights: Uint8Array, xy: Uint8Array): Uint8Array | null {
  if (xy.length === 0) return null;
  try {
    return msm.msmAffine(weights, xy);
  } catch (err) {
    if (err instanceof GroupError && err.code === 'identity_element') return null;
    throw err;
  }
}
