/**
 * Known-answer self-test of the libsodium primitives: proves the calling convention of the
 * raw module (e.g. the split 64-bit length of crypto_hash_sha512, the scalar functions'
 * argument order) before any caller relies on it. A failing path is not used.
 */
import { ORDER } from './ristretto-order.js';
import type { SodiumPrimitives } from './sodium-primitives.js';
import { bytesToScalar, fromHex, scalarToBytes, toHex } from './wasm-bytes.js';

export const KAT = {
  generator: 'e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76', // RFC 9496 A.1
  twoG: '6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919', // RFC 9496 A.1
  nonCanonical: 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // RFC 9496 A.2
  // RFC 9496 A.3, first element-derivation vector.
  mapInput:
    '5d1be09e3d0c82fc538112490e35701979d99e06ca3e2b5b54bffe8b4dc772c1' +
    '4d98b696a1bbfb5ca32c436cc61c16563790306c79eaca7705668b47dffe5bb6',
  mapOutput: '3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46',
  // RFC 9380 K.3, msg "abc": len 0x20 (b_1 only) and the last 32 bytes of len 0x80 (b_2, the strxor chain).
  xmdDst: 'QUUX-V01-CS02-with-expander-SHA512-256',
  xmd32: '0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc',
  xmd128Tail: '1851041310ad659e4b23520e1772ab29dcdeb2002222a363f0c2b1c972b3efe1',
} as const;

export function selfTestFailure(p: SodiumPrimitives): string | undefined {
  try {
    const one = scalarToBytes(1n);
    const two = scalarToBytes(2n);
    const g = p.mulBase(one);
    if (g === null || toHex(g) !== KAT.generator) return 'scalarmult_base';
    const g2 = p.mul(two, g);
    if (g2 === null || toHex(g2) !== KAT.twoG) return 'scalarmult';
    const sum = p.add(g, g);
    if (sum === null || toHex(sum) !== KAT.twoG) return 'add';
    if (!p.isValid(g) || p.isValid(fromHex(KAT.nonCanonical))) return 'is_valid_point';
    if (toHex(p.fromHash(fromHex(KAT.mapInput))) !== KAT.mapOutput) return 'from_hash';
    const abc = new Uint8Array([0x61, 0x62, 0x63]);
    const dst = new TextEncoder().encode(KAT.xmdDst);
    if (toHex(p.expandXmd(abc, dst, 32)) !== KAT.xmd32) return 'expand_message_xmd';
    if (toHex(p.expandXmd(abc, dst, 128).subarray(96)) !== KAT.xmd128Tail) return 'expand_message_xmd';
    const wide = new Uint8Array(64).fill(0xff);
    if (bytesToScalar(p.reduce64(wide)) !== (2n ** 512n - 1n) % ORDER) return 'scalar_reduce';
    // Scalar arithmetic on values near L (carries through every limb), against BigInt.
    const a = ORDER - 2n;
    const b = ORDER - 3n;
    const ab = [scalarToBytes(a), scalarToBytes(b)] as const;
    if (bytesToScalar(p.scalarAdd(...ab)) !== (a + b) % ORDER) return 'scalar_add';
    if (bytesToScalar(p.scalarSub(ab[1], ab[0])) !== ORDER - 1n) return 'scalar_sub';
    if (bytesToScalar(p.scalarMul(...ab)) !== (a * b) % ORDER) return 'scalar_mul';
    const inverse = p.scalarInvert(ab[0]);
    if (inverse === null || bytesToScalar(p.scalarMul(inverse, ab[0])) !== 1n) return 'scalar_invert';
    if (p.scalarInvert(new Uint8Array(32)) !== null) return 'scalar_invert';
    return undefined;
  } catch (err) {
    return `threw ${err instanceof Error ? err.message : String(err)}`;
  }
}
