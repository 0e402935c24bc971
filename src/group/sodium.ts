/**
 * The fast backend: ristretto255 on libsodium (WASM, libsodium-wrappers-sumo), loaded on
 * demand; an environment without WebAssembly simply falls back to noble (see select.ts).
 * This file chooses and caches; the parts live next to it:
 * - sodium-load.ts: importing the wrappers and finding the raw emscripten module;
 * - sodium-primitives.ts: the byte-level primitives, on the raw module ('raw': one scratch
 *   block, secrets wiped after every call) or on the documented wrappers ('wrapper');
 * - sodium-self-test.ts: the known-answer test a path must pass before it is used;
 * - sodium-group.ts: the Group object on the primitives (+ wasm-msm.ts, wasm-x4.ts).
 * The raw module is not part of the wrappers' typed API, so 'auto' uses it only when every
 * function is present and the self-test passes; otherwise the wrappers.
 */
import { ContactPsiError } from '../errors.js';
import { makeSodiumGroup } from './sodium-group.js';
import { loadWrappers, rawModuleOf, type RawModule, type SodiumWrappers } from './sodium-load.js';
import { rawPrimitives, wrapperPrimitives, type SodiumPrimitives } from './sodium-primitives.js';
import { selfTestFailure } from './sodium-self-test.js';
import type { Group } from './types.js';
import { loadWasmMsm } from './wasm-msm.js';
import { loadWasmX4 } from './wasm-x4.js';
import { warnSlowPath } from './slow-path.js';

export { X4_MIN_BATCH } from './sodium-group.js';
export type { SodiumPrimitives } from './sodium-primitives.js';

export type SodiumMode = 'auto' | 'raw' | 'wrapper';

/** How `multiScalarMultiply` is computed: the WASM MSM ('wasm'), or one libsodium multiplication and addition per element ('naive'). */
export type SodiumMsmMode = 'auto' | 'wasm' | 'naive';

export interface SodiumRistrettoOptions {
  /** How to call libsodium (see the file comment); 'auto' prefers 'raw' when its self-test passes. */
  readonly mode?: SodiumMode;
  /** 'auto' (default) uses the WASM MSM when it loads and passes its self-test; 'wasm' requires it. */
  readonly msm?: SodiumMsmMode;
  /** 'auto' (default) runs batches on the four-lane SIMD module when it loads; 'off' keeps them on libsodium. */
  readonly simd?: 'auto' | 'off';
}

const instances = new Map<string, Group>();

/**
 * Loads libsodium (and the WASM MSM) and returns a ristretto255 Group on it. Rejects with
 * ContactPsiError `backend_unavailable` when libsodium cannot be loaded or fails its
 * self-test, or when `msm: 'wasm'` was asked for and the WASM MSM is unavailable.
 */
export async function loadSodiumRistretto255(options: SodiumRistrettoOptions = {}): Promise<Group> {
  const msmMode = options.msm ?? 'auto';
  const [prims, wasm, x4] = await Promise.all([
    loadSodiumPrimitives(options),
    msmMode === 'naive' ? null : loadWasmMsm(),
    options.simd === 'off' ? null : loadWasmX4(),
  ]);
  // 'auto' without a module is a working but slower path: say so, once (slow-path.ts).
  if (msmMode === 'auto' && wasm === null) warnSlowPath('msm_unavailable', 'the WebAssembly MSM did not load; DLEQ proofs are checked one element at a time (slower)');
  if (options.simd !== 'off' && x4 === null) warnSlowPath('simd_unavailable', 'WebAssembly SIMD is unavailable here; batches run on scalar libsodium (about 2x slower)');
  if (msmMode === 'wasm' && wasm === null) {
    throw new ContactPsiError('backend_unavailable', 'the WebAssembly MSM (src/group/wasm/ristretto255.wasm) could not be loaded');
  }
  const key = `${prims.path}/${wasm === null ? 'naive' : 'wasm'}/${x4 === null ? 'x1' : 'x4'}`;
  let group = instances.get(key);
  if (group === undefined) {
    group = makeSodiumGroup(prims, wasm, x4);
    instances.set(key, group);
  }
  return group;
}

const primitives = new Map<SodiumMode, Promise<SodiumPrimitives>>();

/** The primitives behind the Group (self-tested once per mode), exported for the RFC vector tests. */
export function loadSodiumPrimitives(options: SodiumRistrettoOptions = {}): Promise<SodiumPrimitives> {
  const mode = options.mode ?? 'auto';
  let pending = primitives.get(mode);
  if (pending === undefined) {
    pending = choosePrimitives(mode);
    primitives.set(mode, pending);
    pending.catch(() => primitives.delete(mode));
  }
  return pending;
}

async function choosePrimitives(mode: SodiumMode): Promise<SodiumPrimitives> {
  let sodium: SodiumWrappers;
  try {
    sodium = await loadWrappers();
  } catch (err) {
    throw new ContactPsiError('backend_unavailable', 'libsodium (WASM) could not be loaded', { cause: err });
  }
  if (mode !== 'wrapper') {
    const raw = tryRaw(sodium);
    if (typeof raw !== 'string') return raw;
    if (mode === 'raw') throw new ContactPsiError('backend_unavailable', `libsodium raw path unusable: ${raw}`);
  }
  const prims = wrapperPrimitives(sodium);
  const failure = selfTestFailure(prims);
  if (failure !== undefined) throw new ContactPsiError('backend_unavailable', `libsodium failed its self-test: ${failure}`);
  return prims;
}

let rawInstance: { module: RawModule; prims: SodiumPrimitives } | undefined;

/** The raw-path primitives if they exist and pass the self-test, else the reason why not. */
function tryRaw(sodium: SodiumWrappers): SodiumPrimitives | string {
  const module = rawModuleOf(sodium);
  if (module === undefined) return 'the raw libsodium module is not exposed';
  try {
    // One scratch block per module instance: allocated once, never freed (a few hundred bytes).
    if (rawInstance?.module !== module) rawInstance = { module, prims: rawPrimitives(module) };
  } catch (err) {
    return `setup failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  return selfTestFailure(rawInstance.prims) ?? rawInstance.prims;
}
