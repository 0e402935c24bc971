/**
 * Micro-benchmark: µs per element for each operation, suite and backend; the native
 * libsodium floor; the peer's per-element costs; the set encodings' build and lookup cost.
 */
import { randomBytes } from 'node:crypto';
import { loadGroup, type BackendName } from '../src/group/index.js';
import { loadSodiumRistretto255 } from '../src/group/sodium.js';
import { createSuite, Modes, type SuiteId } from '../src/oprf/index.js';
import { buildEncoding, deriveParameters, type EncodingKind } from '../src/setenc/index.js';
import { runNativeFloor, type NativeOutcome } from './native/native.js';
import { loadOpenMined, openMinedSession, OPENMINED_INSTALL } from './peers/openmined.js';
import { loadPool } from './pool.js';
import type { Row } from './report.js';
import { perOpMicros, perOpMicrosAsync, round } from './timing.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const utf8 = (s: string) => new TextEncoder().encode(s);
export const phoneInputs = (n: number, prefix = '+4179'): string[] => Array.from({ length: n }, (_, i) => `tel:${prefix}${String(i).padStart(7, '0')}`);

export interface MicroResult {
  rows: Row[];
  native: NativeOutcome;
  notes: string[];
  /** µs per element of one hash to group + one multiply, per backend (the native comparison). */
  hashMultiply: Record<string, number>;
  /** Ours against the native floor, measured interleaved. */
  comparison: Row[];
}

export async function microOprf(scale: number, usePool: boolean): Promise<MicroResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const hashMultiply: Record<string, number> = {};
  const comparison: Row[] = [];
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
      notes.push(`${id}/${backend} skipped: ${(err as Error).message}`);
      continue;
    }
    const n = Math.max(8, Math.round((backend === 'sodium' ? 2000 : 200) * scale));
    const oprf = createSuite(id, Modes.OPRF, group);
    const voprf = createSuite(id, Modes.VOPRF, group);
    const keys = oprf.generateKeyPair(rng);
    const xs = phoneInputs(n).map(utf8);
    const state = oprf.blind(xs, rng);
    const evaluated = oprf.blindEvaluate(keys.secretKey, state.blinded);
    const vstate = voprf.blind(xs, rng);
    const vkeys = voprf.generateKeyPair(rng);
    const vevaluated = voprf.blindEvaluateVerifiable(vkeys.secretKey, vstate.blinded, rng);
    const k = group.scalar.fromBytes(keys.secretKey);
    const size = group.elementSize;
    const figures: [string, (c: number) => void][] = [
      ['hash to group', (c) => group.hashToGroupBatch(xs.slice(0, c), oprf.hashToGroupDST)],
      ['multiply', (c) => group.multiplyPacked(k, state.blinded.subarray(0, c * size))],
      ['hash to group + multiply', (c) => group.multiplyPacked(k, group.hashToGroupBatch(xs.slice(0, c), oprf.hashToGroupDST))],
      ...(group.hashToGroupMultiply
        ? [['hash to group + multiply, fused (Evaluate)', (c: number) => group.hashToGroupMultiply!(k, xs.slice(0, c), oprf.hashToGroupDST)] as [string, (c: number) => void]]
        : []),
      ['hash to group + multiply, one element at a time', (c) => xs.slice(0, c).forEach((x) => group.multiply(k, group.hashToGroup(x, oprf.hashToGroupDST)))],
      ['blind (client)', (c) => oprf.blind(xs.slice(0, c), rng)],
      ['evaluate (server, OPRF)', (c) => oprf.blindEvaluate(keys.secretKey, state.blinded.subarray(0, c * size))],
      ['evaluate + proof (server, VOPRF, amortized)', (c) => voprf.blindEvaluateVerifiable(vkeys.secretKey, vstate.blinded.subarray(0, c * size), rng)],
      [
        'finalize (client, OPRF)',
        (c) => oprf.finalize({ inputs: xs.slice(0, c), blinds: state.blinds.slice(0, c), blinded: state.blinded.subarray(0, c * size) }, evaluated.subarray(0, c * size)),
      ],
      // One proof covers the whole batch, so this one always runs on all n elements.
      ['finalize + verify proof (client, VOPRF, amortized)', () => voprf.finalize(vstate, vevaluated.evaluated, { proof: vevaluated.proof, publicKey: vkeys.publicKey })],
      ['full evaluate F(k,x) (directory tag)', (c) => oprf.evaluate(keys.secretKey, xs.slice(0, c))],
    ];
    for (const [op, fn] of figures) {
      const us = perOpMicros(fn, n);
      rows.push({ suite: id, backend: group.backend, operation: op, 'µs per element': round(us) });
      if (op === 'hash to group + multiply' && id === 'ristretto255-SHA512') hashMultiply[group.backend] = us;
    }
  }

  if (usePool) {
    const pool = await loadPool();
    if (pool.ok) {
      try {
        const n = Math.max(64, Math.round(8000 * scale));
        const group = await loadGroup('ristretto255', 'auto');
        const suite = createSuite('ristretto255-SHA512', Modes.OPRF, group);
        const keys = suite.generateKeyPair(rng);
        const xs = phoneInputs(n).map(utf8);
        const state = suite.blind(xs, rng);
        const voprf = createSuite('ristretto255-SHA512', Modes.VOPRF, group);
        const figures: [string, (c: number) => Promise<unknown>][] = [
          ['full evaluate F(k,x) (directory tag)', (c) => pool.pool.evaluate(suite.id, suite.mode, keys.secretKey, xs.slice(0, c))],
          ['evaluate (server, OPRF)', (c) => pool.pool.blindEvaluate(suite.id, suite.mode, keys.secretKey, state.blinded.subarray(0, c * 32))],
          [
            'evaluate + proof (server, VOPRF, amortized)',
            (c) => pool.pool.blindEvaluateVerifiable(voprf.id, voprf.mode, keys.secretKey, state.blinded.subarray(0, Math.min(c, 4096) * 32), rng),
          ],
        ];
        for (const [op, fn] of figures) {
          const count = op.includes('proof') ? Math.min(n, 4096) : n;
          const us = await perOpMicrosAsync(fn, count);
          rows.push({ suite: suite.id, backend: `${group.backend} + pool(${pool.pool.size})`, operation: op, 'µs per element': round(us) });
        }
      } catch (err) {
        notes.push(`worker pool run failed: ${(err as Error).message}`);
      } finally {
        await pool.close();
      }
    } else notes.push(`--pool: ${pool.reason}`);
  }

  // Best of three runs, as for ours: the machine is shared, and the floor is a minimum.
  const native = bestNative(Math.max(200, Math.round(20_000 * scale)));
  if (native.ok) {
    const f = native.figures;
    const label = `native libsodium ${f.sodiumVersion} (C, -O2)`;
    rows.push({ suite: 'ristretto255-SHA512', backend: label, operation: 'expand_message_xmd (SHA-512)', 'µs per element': round(f.xmdNs / 1000) });
    rows.push({ suite: 'ristretto255-SHA512', backend: label, operation: 'from_hash (one-way map)', 'µs per element': round(f.fromHashNs / 1000) });
    rows.push({ suite: 'ristretto255-SHA512', backend: label, operation: 'hash to group', 'µs per element': round((f.xmdNs + f.fromHashNs) / 1000) });
    rows.push({ suite: 'ristretto255-SHA512', backend: label, operation: 'multiply', 'µs per element': round(f.scalarmultNs / 1000) });
    rows.push({ suite: 'ristretto255-SHA512', backend: label, operation: 'hash to group + multiply', 'µs per element': round(f.hashAndMultiplyNs / 1000) });
    // The target's comparison, measured interleaved (ours, native, ours, ...; best of each)
    // so that both see the same load on this shared machine.
    const sodium = await loadGroup('ristretto255', 'sodium').catch(() => undefined);
    if (sodium) {
      const suite = createSuite('ristretto255-SHA512', Modes.OPRF, sodium);
      const k = sodium.scalar.fromBytes(suite.generateKeyPair(rng).secretKey);
      const xs = phoneInputs(Math.max(50, Math.round(2000 * scale))).map(utf8);
      let ours = Infinity;
      let single = Infinity;
      let floor = Infinity;
      const fused = (c: number) =>
        sodium.hashToGroupMultiply ? sodium.hashToGroupMultiply(k, xs.slice(0, c), suite.hashToGroupDST) : sodium.multiplyPacked(k, sodium.hashToGroupBatch(xs.slice(0, c), suite.hashToGroupDST));
      for (let i = 0; i < 5; i++) {
        ours = Math.min(ours, perOpMicros(fused, xs.length, 1));
        single = Math.min(single, perOpMicros((c) => xs.slice(0, c).forEach((x) => sodium.multiply(k, sodium.hashToGroup(x, suite.hashToGroupDST))), Math.min(xs.length, 500), 1));
        const run = runNativeFloor(Math.max(200, Math.round(5_000 * scale)));
        if (run.ok) floor = Math.min(floor, run.figures.hashAndMultiplyNs / 1000);
      }
      hashMultiply.sodium = ours;
      hashMultiply.singleElement = single;
      hashMultiply.native = floor;
      hashMultiply.interleaved = 1;
      comparison.push({
        operation: `hash to group + multiply, batch of ${xs.length} (how Evaluate, blinding and precompute run: SIMD four lanes, fused)`,
        'ours (WASM) µs': round(ours),
        'native libsodium µs': round(floor),
        'ours / native': round(ours / floor, 3),
      });
      comparison.push({
        operation: 'hash to group + multiply, one element at a time (libsodium WASM)',
        'ours (WASM) µs': round(single),
        'native libsodium µs': round(floor),
        'ours / native': round(single / floor, 3),
      });
    } else hashMultiply.native = f.hashAndMultiplyNs / 1000;
  } else notes.push(native.reason);

  const peer = await loadOpenMined();
  if (peer) {
    const n = Math.max(50, Math.round(2000 * scale));
    const server = phoneInputs(n, '+1415');
    const client = phoneInputs(Math.max(10, n >> 1), '+1415');
    const f = openMinedSession(peer, server, client, 1e-6, 'Raw');
    const label = peer.label;
    rows.push({ suite: 'P-256 (ECDH-PSI)', backend: label, operation: 'server setup (CreateSetupMessage, Raw)', 'µs per element': round((f.setupMs * 1000) / server.length) });
    rows.push({ suite: 'P-256 (ECDH-PSI)', backend: label, operation: 'client request (CreateRequest)', 'µs per element': round((f.requestMs * 1000) / client.length) });
    rows.push({ suite: 'P-256 (ECDH-PSI)', backend: label, operation: 'server process (ProcessRequest)', 'µs per element': round((f.processMs * 1000) / client.length) });
    rows.push({ suite: 'P-256 (ECDH-PSI)', backend: label, operation: 'client intersect (GetIntersection)', 'µs per element': round((f.intersectMs * 1000) / client.length) });
  } else notes.push(`peer skipped: run ${OPENMINED_INSTALL}`);
  return { rows, native, notes, hashMultiply, comparison };
}

/**
 * multiScalarMultiply (the DLEQ composites, RFC 9497 §2.2.1) on the sodium group, µs per
 * element: our WebAssembly MSM against the naive path (one libsodium multiplication and
 * one addition per element). Measured interleaved, best of `repeats` each.
 */
export async function microMsm(sizes: readonly number[], repeats: number): Promise<{ rows: Row[]; notes: string[] }> {
  const rows: Row[] = [];
  const notes: string[] = [];
  let fast;
  let naive;
  try {
    [fast, naive] = await Promise.all([loadSodiumRistretto255({ msm: 'wasm' }), loadSodiumRistretto255({ msm: 'naive' })]);
  } catch (err) {
    notes.push(`msm skipped: ${(err as Error).message}`);
    return { rows, notes };
  }
  const max = Math.max(...sizes);
  const suite = createSuite('ristretto255-SHA512', Modes.OPRF, fast);
  const elements = fast.hashToGroupBatch(phoneInputs(max).map(utf8), suite.hashToGroupDST);
  const dst = utf8('bench-msm-weights');
  const weights = Array.from({ length: max }, (_, i) => fast.hashToScalar(utf8(`d${i}`), dst));
  for (const n of sizes) {
    const run = (group: typeof fast) => (c: number) => group.multiScalarMultiply(weights.slice(0, c), elements.subarray(0, c * 32));
    let wasmUs = Infinity;
    let naiveUs = Infinity;
    for (let r = 0; r < repeats; r++) {
      wasmUs = Math.min(wasmUs, perOpMicros(run(fast), n, 1));
      naiveUs = Math.min(naiveUs, perOpMicros(run(naive), n, 1));
    }
    rows.push({
      operation: `msm n=${n} per element`,
      'sodium + WASM MSM µs': round(wasmUs),
      'sodium naive (mul + add per element) µs': round(naiveUs),
      'naive / WASM': round(naiveUs / wasmUs, 3),
    });
  }
  return { rows, notes };
}

function bestNative(iterations: number): NativeOutcome {
  let best: NativeOutcome | undefined;
  for (let i = 0; i < 3; i++) {
    const run = runNativeFloor(iterations);
    if (!run.ok) return run;
    if (!best?.ok) best = run;
    else {
      const a = best.figures;
      const b = run.figures;
      best = {
        ok: true,
        figures: {
          ...a,
          xmdNs: Math.min(a.xmdNs, b.xmdNs),
          fromHashNs: Math.min(a.fromHashNs, b.fromHashNs),
          scalarmultNs: Math.min(a.scalarmultNs, b.scalarmultNs),
          hashAndMultiplyNs: Math.min(a.hashAndMultiplyNs, b.hashAndMultiplyNs),
        },
      };
    }
  }
  return best!;
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
    const lookups = kind === 'gcs' ? 2_000 : 50_000;
    const lookup = perOpMicros((c) => {
      for (let i = 0; i < c; i++) enc.contains(probes[i % probes.length]);
    }, Math.max(100, Math.round(lookups * Math.min(1, scale * 4))));
    rows.push({ encoding: kind, entries: n, 'build µs per entry': round(build), 'lookup µs': round(lookup), 'bits per entry': round((enc.byteLength * 8) / n) });
  }
  return rows;
}
