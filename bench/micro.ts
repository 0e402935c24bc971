/**
 * Micro-benchmark: one figure per operation, suite and backend (µs per element), plus the
 * set encodings' build and lookup cost per entry.
 */
import { randomBytes } from 'node:crypto';
import { loadGroup, type BackendName } from '../src/group/index.js';
import { createSuite, Modes, type SuiteId } from '../src/oprf/index.js';
import { buildEncoding, deriveParameters, type EncodingKind } from '../src/setenc/index.js';
import { perOpMicros } from './timing.js';
import type { Row } from './report.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const inputs = (n: number) => Array.from({ length: n }, (_, i) => new TextEncoder().encode(`tel:+4179${1000000 + i}`));

export async function microOprf(scale: number): Promise<Row[]> {
  const rows: Row[] = [];
  const combos: [SuiteId, BackendName][] = [
    ['ristretto255-SHA512', 'noble'],
    ['ristretto255-SHA512', 'sodium'],
    ['P256-SHA256', 'noble'],
  ];
  for (const [id, backend] of combos) {
    let group;
    try {
      group = await loadGroup(id === 'P256-SHA256' ? 'P256' : 'ristretto255', backend);
    } catch (err) {
      console.warn(`skipping ${id}/${backend}: ${(err as Error).message}`);
      continue;
    }
    const n = Math.max(8, Math.round((backend === 'sodium' ? 2000 : 200) * scale));
    const oprf = createSuite(id, Modes.OPRF, group);
    const voprf = createSuite(id, Modes.VOPRF, group);
    const keys = oprf.generateKeyPair(rng);
    const xs = inputs(n);
    const state = oprf.blind(xs, rng);
    const evaluated = oprf.blindEvaluate(keys.secretKey, state.blinded);
    const vstate = voprf.blind(xs, rng);
    const k = group.scalar.fromBytes(keys.secretKey);
    const figures: [string, (c: number) => void][] = [
      ['hash to group', (c) => group.hashToGroupBatch(xs.slice(0, c), oprf.hashToGroupDST)],
      ['multiply', (c) => group.multiplyPacked(k, state.blinded.subarray(0, c * group.elementSize))],
      ['blind', (c) => oprf.blind(xs.slice(0, c), rng)],
      ['evaluate', (c) => oprf.blindEvaluate(keys.secretKey, state.blinded.subarray(0, c * group.elementSize))],
      ['evaluate + proof (VOPRF, amortized)', (c) => voprf.blindEvaluateVerifiable(keys.secretKey, vstate.blinded.subarray(0, c * group.elementSize), rng)],
      ['finalize', (c) => oprf.finalize({ inputs: xs.slice(0, c), blinds: state.blinds.slice(0, c), blinded: state.blinded.subarray(0, c * group.elementSize) }, evaluated.subarray(0, c * group.elementSize))],
      ['server full evaluate F(k,x)', (c) => oprf.evaluate(keys.secretKey, xs.slice(0, c))],
    ];
    for (const [op, fn] of figures) {
      rows.push({ suite: id, backend: group.backend, operation: op, 'µs per element': perOpMicros(fn, n) });
    }
  }
  return rows;
}

export function microEncodings(scale: number): Row[] {
  const rows: Row[] = [];
  const n = Math.max(1000, Math.round(100_000 * scale));
  const tags = Array.from({ length: n }, () => rng(64));
  const probes = Array.from({ length: 10_000 }, () => rng(64));
  for (const kind of ['raw', 'gcs', 'bloom', 'fuse'] as EncodingKind[]) {
    const params = deriveParameters({ kind, serverSize: n, clientSize: 1000, falsePositiveRate: 1e-6 });
    const build = perOpMicros(() => buildEncoding(params, tags), n, 2);
    const enc = buildEncoding(params, tags);
    const lookup = perOpMicros((c) => {
      for (let i = 0; i < c; i++) enc.contains(probes[i % probes.length]);
    }, 50_000);
    rows.push({ encoding: kind, entries: n, 'build µs per entry': build, 'lookup µs': lookup, 'bits per entry': (enc.byteLength * 8) / n });
  }
  return rows;
}
