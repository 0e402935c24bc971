import { sha256 } from '@noble/hashes/sha2.js';

/** A deterministic byte generator for tests (SHA-256 in counter mode); never for keys in production. */
export function seededRng(seed: number): (n: number) => Uint8Array {
  let counter = 0;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) {
      const block = sha256(new TextEncoder().encode(`${seed}:${counter++}`));
      out.set(block.subarray(0, Math.min(32, n - off)), off);
    }
    return out;
  };
}

/** A fast non-cryptographic stream (xorshift32) for statistical tests that need many random tags. */
export function fastRng(seed: number): (n: number) => Uint8Array {
  let x = seed | 0 || 0x9e3779b9;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  };
}
