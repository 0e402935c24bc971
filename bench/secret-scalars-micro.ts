/**
 * Micro-benchmark of the secret-scalar arithmetic (issue 9 §5, spec/protocol.md §8): the
 * constant-time code against the BigInt code it replaced, in the same process, interleaved
 * round by round so that both see the same machine load:
 *
 *   node dist/bench/secret-scalars-micro.js [--n=1024] [--rounds=7]
 *
 * Rows (best of the rounds):
 * - the unblinding inverses of n blinds: libsodium (Montgomery's trick on
 *   crypto_core_ristretto255_scalar_mul, one scalar_invert) vs the former BigInt batchInvert;
 * - RandomScalar's reduction of 48 bytes modulo L - 1: branch-free limbs vs BigInt;
 * - the DLEQ response s = r - c*k: libsodium scalar_mul + scalar_sub vs BigInt.
 * The machine is shared: the load average is printed at both ends.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { byteModulus, reduceRandomScalar } from '../src/group/scalar-bytes.js';
import { invertScalar, mod } from '../src/group/scalar-field.js';
import { loadSodiumRistretto255 } from '../src/group/sodium.js';

const arg = (name: string, fallback: number): number => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : Number(hit.slice(name.length + 3));
};
const n = arg('n', 1024);
const rounds = arg('rounds', 7);
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const rng = (size: number): Uint8Array => new Uint8Array(randomBytes(size));
const fromLe = (b: Uint8Array): bigint => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);

/** The code the constant-time path replaced (src/oprf/suite.ts before issue 9 §5). */
function formerBatchInvert(values: readonly bigint[]): bigint[] {
  const prefix = new Array<bigint>(values.length);
  let acc = 1n;
  for (let i = 0; i < values.length; i++) {
    prefix[i] = acc;
    acc = (acc * values[i]) % L;
  }
  let inv = invertScalar(acc, L);
  const out = new Array<bigint>(values.length);
  for (let i = values.length - 1; i >= 0; i--) {
    out[i] = (inv * prefix[i]) % L;
    inv = (inv * values[i]) % L;
  }
  return out;
}

const sodium = await loadSodiumRistretto255();
const blinds = Array.from({ length: n }, () => sodium.scalar.random(rng));
const bigBlinds = blinds.map(fromLe);
const modulus = byteModulus(L, 32, true);
const wides = Array.from({ length: n }, () => rng(48));
const k = sodium.scalar.random(rng);
const r = sodium.scalar.random(rng);
const c = sodium.scalar.random(rng);
const [kBig, rBig, cBig] = [k, r, c].map(fromLe);

const rows: [string, string, number, (i: number) => unknown][] = [
  [`inverses of ${n} blinds, libsodium`, 'ms', 1e-3, () => sodium.scalar.invertEach(blinds)],
  [`inverses of ${n} blinds, former BigInt`, 'ms', 1e-3, () => formerBatchInvert(bigBlinds)],
  ['RandomScalar reduction, branch-free', 'µs', 1 / n, (i) => reduceRandomScalar(modulus, wides[i % n].slice())],
  ['RandomScalar reduction, former BigInt', 'µs', 1 / n, (i) => mod(fromLe(wides[i % n].slice().reverse()), L - 1n) + 1n],
  ['s = r - c*k, libsodium', 'µs', 1 / n, () => sodium.scalar.sub(r, sodium.scalar.mul(c, k))],
  ['s = r - c*k, former BigInt', 'µs', 1 / n, () => mod(rBig - cBig * kBig, L)],
];

console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const best = new Map<string, number>();
for (let round = 0; round < rounds; round++) {
  for (const [name, , scale, run] of rows) {
    const calls = scale === 1e-3 ? 5 : n;
    const start = performance.now();
    for (let i = 0; i < calls; i++) run(i);
    const perCall = ((performance.now() - start) * 1000) / calls; // µs
    const value = scale === 1e-3 ? perCall / 1000 : perCall;
    best.set(name, Math.min(best.get(name) ?? Infinity, value));
  }
}
for (const [name, unit] of rows) console.log(`${name}: ${best.get(name)!.toFixed(2)} ${unit} (best of ${rounds})`);
console.log(`load average at end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
