/**
 * Node's randomness for the sync, drawn in blocks: a sync without a blind secret asks for 48
 * bytes per contact (RandomScalar, RFC 9497 §2.1), and one `randomBytes` call each cost
 * ~10 µs of system call and allocation (~100 ms for 10,000 contacts). Each request is served
 * as its own copy from a 64 KiB block of `randomBytes`, and the served bytes are zeroed in
 * the block, so no two requests share bytes and the block keeps no copy of what it gave out.
 * Large requests bypass the block.
 */
import { randomBytes } from 'node:crypto';

export type RandomSource = (byteLength: number) => Uint8Array;

export function pooledRandom(blockBytes = 64 * 1024): RandomSource {
  let block = new Uint8Array(0);
  let at = 0;
  return (n) => {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('byte length must be a non-negative integer');
    if (n > blockBytes / 4) return new Uint8Array(randomBytes(n));
    if (at + n > block.length) {
      block = new Uint8Array(randomBytes(blockBytes));
      at = 0;
    }
    const out = block.slice(at, at + n);
    block.fill(0, at, at + n);
    at += n;
    return out;
  };
}
