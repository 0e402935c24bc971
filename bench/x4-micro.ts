/**
 * Micro-benchmark of the four-lane WebAssembly SIMD multiplier (src/group/wasm-x4.ts)
 * against libsodium's WASM build (the sodium backend), in the same process, interleaved
 * round by round so that both see the same machine load:
 *
 *   node dist/bench/x4-micro.js [--n=1024] [--rounds=9]
 *
 * Rows (µs per element, best and median of the rounds):
 * - mulCommon vs sodium multiplyPacked (decode + crypto_scalarmult_ristretto255 per element)
 *   and vs the bare crypto_scalarmult_ristretto255 loop;
 * - mulEach vs sodium multiplyEach;
 * - hashMulCommon vs crypto_core_ristretto255_from_hash + crypto_scalarmult_ristretto255;
 * - fromHash vs crypto_core_ristretto255_from_hash.
 * The machine is shared: the load average is printed at both ends.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { nobleRistretto255 } from '../src/group/noble.js';
import { loadGroup } from '../src/group/select.js';
import { loadSodiumPrimitives } from '../src/group/sodium.js';
import { loadWasmX4 } from '../src/group/wasm-x4.js';

const arg = (name: string, fallback: number): number => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : Number(hit.slice(name.length + 3));
};
const n = arg('n', 1024);
const rounds = arg('rounds', 9);
const ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
const rng = (len: number) => new Uint8Array(randomBytes(len));
const randomScalar = (): bigint => (BigInt(`0x${Buffer.from(rng(40)).toString('hex')}`) % (ORDER - 1n)) + 1n;
const le32 = (s: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  let v = s;
  for (let i = 0; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
};
const load = () => loadavg().map((l) => l.toFixed(2)).join(' / ');

const x4 = await loadWasmX4();
if (x4 === null) {
  console.error('the WASM SIMD module is unavailable (run `node scripts/build-wasm-x4.mjs` first)');
  process.exit(1);
}
const sodium = await loadGroup('ristretto255', 'sodium');
const prims = await loadSodiumPrimitives();

const packed = nobleRistretto255.hashToGroupBatch(
  Array.from({ length: n }, (_, i) => new TextEncoder().encode(`bench ${i}`)),
  new TextEncoder().encode('x4-micro'),
);
const uniform = rng(64 * n);
const k = randomScalar();
const kBytes = le32(k);
const scalars = Array.from({ length: n }, randomScalar);

type Row = { name: string; ours: () => void; theirs: () => void; theirsName: string };
const rows: Row[] = [
  { name: 'mulCommon', ours: () => x4.mulCommon(k, packed), theirsName: 'sodium multiplyPacked', theirs: () => sodium.multiplyPacked(k, packed) },
  {
    name: 'mulCommon',
    ours: () => x4.mulCommon(k, packed),
    theirsName: 'crypto_scalarmult_ristretto255 only',
    theirs: () => {
      for (let i = 0; i < n; i++) prims.mul(kBytes, packed.subarray(32 * i, 32 * i + 32));
    },
  },
  { name: 'mulEach', ours: () => x4.mulEach(scalars, packed), theirsName: 'sodium multiplyEach', theirs: () => sodium.multiplyEach(scalars, packed) },
  {
    name: 'hashMulCommon',
    ours: () => x4.hashMulCommon(k, uniform),
    theirsName: 'from_hash + scalarmult',
    theirs: () => {
      for (let i = 0; i < n; i++) prims.mul(kBytes, prims.fromHash(uniform.subarray(64 * i, 64 * i + 64)));
    },
  },
  {
    name: 'fromHash',
    ours: () => x4.fromHash(uniform),
    theirsName: 'crypto_core_ristretto255_from_hash',
    theirs: () => {
      for (let i = 0; i < n; i++) prims.fromHash(uniform.subarray(64 * i, 64 * i + 64));
    },
  },
];

const micros = (fn: () => void): number => {
  const t = performance.now();
  fn();
  return ((performance.now() - t) * 1000) / n;
};
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { best: s[0], median: s[s.length >> 1] };
};

console.log(`n = ${n}, ${rounds} rounds; load average at start ${load()}`);
for (const row of rows) {
  row.ours();
  row.theirs(); // warm-up (JIT, WASM tier-up)
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    ours.push(micros(row.ours));
    theirs.push(micros(row.theirs));
  }
  const o = stats(ours);
  const t = stats(theirs);
  console.log(
    `${row.name.padEnd(14)} ${o.best.toFixed(1).padStart(6)} µs (median ${o.median.toFixed(1)})  vs ${row.theirsName.padEnd(36)} ` +
      `${t.best.toFixed(1).padStart(6)} µs (median ${t.median.toFixed(1)})  ratio best ${(t.best / o.best).toFixed(2)}x, median ${(t.median / o.median).toFixed(2)}x`,
  );
}
console.log(`load average at end ${load()}`);
