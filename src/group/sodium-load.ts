/**
 * Loading libsodium (libsodium-wrappers-sumo, WASM) on demand, and finding the emscripten
 * module under the wrappers (the 'raw' access path of sodium-primitives.ts). A dynamic
 * import, so code that never asks for the sodium backend never pays for the WASM.
 */

/** The wrappers' API (typed by the package). */
export type SodiumWrappers = typeof import('libsodium-wrappers-sumo').default;

/** The emscripten module under the wrappers; untyped there, so checked at load time. */
export interface RawModule {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _crypto_hash_sha512(out: number, input: number, lenLow: number, lenHigh: number): number;
  _crypto_core_ristretto255_from_hash(out: number, uniform: number): number;
  _crypto_core_ristretto255_is_valid_point(element: number): number;
  _crypto_core_ristretto255_add(out: number, a: number, b: number): number;
  _crypto_core_ristretto255_scalar_reduce(out: number, wide: number): void;
  _crypto_core_ristretto255_scalar_add(out: number, a: number, b: number): void;
  _crypto_core_ristretto255_scalar_sub(out: number, a: number, b: number): void;
  _crypto_core_ristretto255_scalar_mul(out: number, a: number, b: number): void;
  _crypto_core_ristretto255_scalar_invert(out: number, a: number): number;
  _crypto_scalarmult_ristretto255(out: number, scalar: number, element: number): number;
  _crypto_scalarmult_ristretto255_base(out: number, scalar: number): number;
}

const RAW_FUNCTIONS = [
  '_malloc',
  '_free',
  '_crypto_hash_sha512',
  '_crypto_core_ristretto255_from_hash',
  '_crypto_core_ristretto255_is_valid_point',
  '_crypto_core_ristretto255_add',
  '_crypto_core_ristretto255_scalar_reduce',
  '_crypto_core_ristretto255_scalar_add',
  '_crypto_core_ristretto255_scalar_sub',
  '_crypto_core_ristretto255_scalar_mul',
  '_crypto_core_ristretto255_scalar_invert',
  '_crypto_scalarmult_ristretto255',
  '_crypto_scalarmult_ristretto255_base',
] as const satisfies readonly (keyof RawModule)[];

let sodiumReady: Promise<SodiumWrappers> | undefined;

export function loadWrappers(): Promise<SodiumWrappers> {
  if (sodiumReady === undefined) {
    const pending = (async () => {
      const mod = await import('libsodium-wrappers-sumo');
      await mod.default.ready;
      return mod.default;
    })();
    // A failed load (no WebAssembly, no crypto.getRandomValues) may be retried later.
    pending.catch(() => {
      if (sodiumReady === pending) sodiumReady = undefined;
    });
    sodiumReady = pending;
  }
  return sodiumReady;
}

export function rawModuleOf(sodium: SodiumWrappers): RawModule | undefined {
  const raw = (sodium as unknown as { libsodium?: Record<string, unknown> }).libsodium;
  if (raw === undefined || raw === null || !(raw.HEAPU8 instanceof Uint8Array)) return undefined;
  return RAW_FUNCTIONS.every((name) => typeof raw[name] === 'function') ? (raw as unknown as RawModule) : undefined;
}
