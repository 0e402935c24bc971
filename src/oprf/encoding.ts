/** Byte helpers for RFC 9497 transcripts: I2OSP and length-prefixed concatenation. */
const textEncoder = new TextEncoder();

export const ascii = (s: string): Uint8Array => textEncoder.encode(s);

export function i2osp(value: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = value & 0xff;
    value = Math.floor(value / 256);
  }
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** I2OSP(len(x), 2) || x, the framing RFC 9497 uses in every transcript. */
export const lengthPrefixed = (x: Uint8Array): Uint8Array => concat(i2osp(x.length, 2), x);
