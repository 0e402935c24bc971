/**
 * What the WebAssembly group modules (wasm-msm.ts, wasm-x4.ts) and the libsodium backend
 * share: loading a .wasm file that sits next to the module (src/ under vitest, dist/ in the
 * package), ristretto255 scalars as 32 little-endian bytes, and hex for known answers.
 */

/** A variable, so that browser bundlers do not try to resolve a Node built-in. */
const NODE_FS = 'node:fs/promises';

/** The file's bytes: node:fs for file: URLs, fetch elsewhere; null when it is not there (not built). */
export async function readWasmFile(url: URL): Promise<Uint8Array<ArrayBuffer> | null> {
  if (url.protocol === 'file:') {
    const fs = (await import(/* @vite-ignore */ NODE_FS)) as typeof import('node:fs/promises');
    try {
      return new Uint8Array(await fs.readFile(url));
    } catch {
      return null;
    }
  }
  if (typeof fetch !== 'function') return null;
  const response = await fetch(url);
  return response.ok ? new Uint8Array(await response.arrayBuffer()) : null;
}

/** s (0 <= s < 2^256) as 32 bytes little-endian, four 64-bit words (RFC 9496 §4.4 scalar encoding). */
export function scalarToBytes(s: bigint): Uint8Array {
  const out = new Uint8Array(32);
  const view = new DataView(out.buffer);
  let v = s;
  for (let i = 0; i < 4; i++) {
    view.setBigUint64(8 * i, BigInt.asUintN(64, v), true);
    v >>= 64n;
  }
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Little-endian bytes as a bigint: public values only (known answers, DLEQ weights and challenges). */
export function bytesToScalar(le: Uint8Array): bigint {
  let hex = '0x';
  for (let i = le.length - 1; i >= 0; i--) hex += HEX[le[i]];
  return BigInt(hex);
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}
