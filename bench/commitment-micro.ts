/**
 * Micro-benchmark of the tag-set commitment (spec/verifiability.md §1, spec/discovery.md §8):
 * what a server pays once per epoch (the whole tag set, from scratch) and per new version
 * (a delta), with the libsodium backend the server uses:
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/commitment-micro.js [--n=20000] [--delta=10]
 *
 * Random 8-byte prefixes; the load average is printed (the machine is shared).
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { loadGroup } from '../src/group/index.js';
import { applyDelta, commitPrefixes } from '../src/protocol/discovery/commitment.js';

const arg = (name: string, fallback: number): number => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const n = arg('n', 20_000);
const delta = arg('delta', 10);
const group = await loadGroup('ristretto255', 'sodium');
const packed = new Uint8Array(randomBytes(n * 8));
let t = performance.now();
const c = commitPrefixes(packed, { group });
const full = performance.now() - t;
const rounds = 10;
t = performance.now();
for (let i = 0; i < rounds; i++) applyDelta(c, new Uint8Array(randomBytes(8 * delta)), packed.subarray(8 * i * delta, 8 * (i + 1) * delta), { group });
const step = (performance.now() - t) / rounds;
console.log(`load ${loadavg()[0]!.toFixed(1)}; from scratch: ${n} prefixes in ${full.toFixed(0)} ms = ${((full * 1000) / n).toFixed(1)} us/prefix; delta +${delta} -${delta}: ${step.toFixed(2)} ms`);
