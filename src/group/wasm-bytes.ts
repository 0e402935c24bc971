/**
 * What the WebAssembly group modules (wasm-msm.ts, wasm-x4.ts) and the libsodium backend
 * share: decoding the module bytes that scripts/wasm-inline.mjs inlined as base64 (so that
 * bundlers need no configuration and nothing is fetched: issue 12 §3), ristretto255 scalars
 * as 32 little-endian bytes, and hex for known answers.
 */

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < BASE64.length; i++) BASE64_VALUE[BASE64.charCodeAt(i)] = i;

/**
 * The bytes of a module inlined by scripts/wasm-inline.mjs (standard base64, padded). A
 * decoder of our own rather than atob or Buffer: the same code in Node, browsers and React
 * Native (Hermes has no atob in older releases), on a ~60 KB string once per process.
 * Throws RangeError on anything but base64 (a damaged generated file).
 */
export function decodeWasmBase64(text: string): Uint8Array<ArrayBuffer> {
  if (text.length % 4 !== 0) throw new RangeError('inlined WebAssembly: base64 length is not a multiple of 4');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let quad = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const v = c === 61 && i + j >= text.length - padding ? 0 : c < 128 ? BASE64_VALUE[c] : -1; // 61 is '='
      if (v < 0) throw new RangeError(`inlined WebAssembly: not base64 at ${i + j}`);
      quad = (quad << 6) | v;
    }
    if (o < out.length) out[o++] = quad >>> 16;
    if (o < out.length) out[o++] = (quad >>> 8) & 0xff;
    if (o < out.length) out[o++] = quad & 0xff;
  }
  return out;
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
