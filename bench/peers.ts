/**
 * `bench -- peers`: per element, the three VOPRF steps of RFC 9497 (client blind, server
 * blind-evaluate with the batched DLEQ proof, client finalize with proof verification),
 * ours beside @cloudflare/voprf-ts, same suite (ristretto255-SHA512), same mode (VOPRF),
 * same batch sizes, same inputs, interleaved in one process. Both sides first evaluate the
 * same inputs under the same key and must agree byte for byte (both claim RFC 9497), so the
 * comparison is of the same function. @openmined/psi.js (ECDH-PSI on P-256, no OPRF API)
 * gets its closest steps per element in the same run: request (hash + blind), process
 * (multiply), setup (hash + multiply + encode), intersect (unblind + look up).
 */
import { randomBytes } from 'node:crypto';
import { loadGroup, type BackendName } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { loadOpenMined, openMinedSession, OPENMINED_INSTALL } from './peers/openmined.js';
import { loadVoprfTs, VOPRF_TS_INSTALL, type VoprfTsPeer } from './peers/voprf-ts.js';
import { phoneInputs } from './micro.js';
import type { Report, Row } from './report.js';
import { round } from './timing.js';

export interface PeersOptions {
  batches: readonly number[];
  smoke: boolean;
}

const rng = (n: number) => new Uint8Array(randomBytes(n));
const utf8 = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

type Step = 'blind' | 'evaluate + proof' | 'finalize + verify';
const STEPS: Step[] = ['blind', 'evaluate + proof', 'finalize + verify'];

/** Best µs per element over `rounds` rounds, each of ceil(elements / batch) batches. */
async function perElement(batch: number, elements: number, rounds: number, once: () => Promise<void> | void): Promise<number> {
  const reps = Math.max(1, Math.ceil(elements / batch));
  await once(); // warm-up
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    for (let i = 0; i < reps; i++) await once();
    best = Math.min(best, ((performance.now() - t) * 1000) / (reps * batch));
  }
  return best;
}

export async function peersScenario(o: PeersOptions): Promise<Report> {
  const notes: string[] = [];
  const rows: Row[] = [];
  const ratios: Row[] = [];
  const data: Record<string, number | string> = {};
  const peer = await loadVoprfTs();
  if (!peer) notes.push(`@cloudflare/voprf-ts not installed: run ${VOPRF_TS_INSTALL}`);
  const elements = o.smoke ? 32 : 2048;
  // voprf-ts is ~100x slower per element: fewer elements per round keep the run to minutes.
  const peerElements = o.smoke ? 8 : 256;
  const rounds = o.smoke ? 1 : 3;
  const peerRounds = o.smoke ? 1 : 2;
  let agree: boolean | undefined;

  const backends: BackendName[] = ['sodium', 'noble'];
  for (const backend of backends) {
    const group = await loadGroup('ristretto255', backend).catch(() => undefined);
    if (!group) {
      notes.push(`ours on ${backend}: backend unavailable`);
      continue;
    }
    const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, group);
    const keys = suite.generateKeyPair(rng);
    if (peer && agree === undefined) agree = await crossCheck(peer, suite, keys.secretKey);
    // Our pure-JS backend is as slow as the peer: as few elements as the peer gets.
    const [n, r] = backend === 'noble' ? [peerElements, peerRounds] : [elements, rounds];
    for (const batch of o.batches) {
      const xs = phoneInputs(batch).map(utf8);
      const state = suite.blind(xs, rng);
      const ev = suite.blindEvaluateVerifiable(keys.secretKey, state.blinded, rng);
      const ours: Record<Step, number> = {
        blind: await perElement(batch, n, r, () => void suite.blind(xs, rng)),
        'evaluate + proof': await perElement(batch, n, r, () => void suite.blindEvaluateVerifiable(keys.secretKey, state.blinded, rng)),
        'finalize + verify': await perElement(batch, n, r, () => void suite.finalize(state, ev.evaluated, { proof: ev.proof, publicKey: keys.publicKey })),
      };
      let theirs: Record<Step, number> | undefined;
      if (peer && backend === 'sodium') theirs = await measurePeer(peer, keys.secretKey, xs, batch, peerElements, peerRounds);
      for (const step of STEPS) {
        rows.push({ batch, step, implementation: `ours (${group.backend})`, 'µs per element': round(ours[step]) });
        data[`ours/${group.backend}/${batch}/${step}`] = ours[step];
      }
      if (theirs) {
        for (const step of STEPS) {
          rows.push({ batch, step, implementation: peer!.label, 'µs per element': round(theirs[step]) });
          data[`voprf-ts/${batch}/${step}`] = theirs[step];
        }
      }
      // Ratios against voprf-ts measured in this run, for each of our backends.
      for (const step of STEPS) {
        const t = data[`voprf-ts/${batch}/${step}`];
        if (typeof t === 'number') ratios.push({ batch, step, ours: group.backend, 'voprf-ts / ours': round(t / ours[step], 3) });
      }
    }
  }
  if (peer) {
    data['voprf-ts/version'] = peer.version;
    data['voprf-ts/suite'] = peer.suite;
    notes.push(
      agree
        ? `Cross-check: voprf-ts and ours give the same RFC 9497 output for the same key and inputs (server-side Evaluate of 16 inputs, byte for byte), so both compute the same function.`
        : 'Cross-check FAILED: voprf-ts and ours disagree on the same key and inputs; the figures compare different functions.',
    );
  }

  // @openmined/psi.js: its closest steps per element, on batch-sized sets, same run.
  const openmined = await loadOpenMined();
  const omRows: Row[] = [];
  if (!openmined) notes.push(`@openmined/psi.js not installed (${OPENMINED_INSTALL})`);
  else {
    for (const batch of o.batches.filter((b) => b >= 16)) {
      const set = phoneInputs(batch);
      let best: ReturnType<typeof openMinedSession> | undefined;
      for (let r = 0; r < rounds; r++) {
        const f = openMinedSession(openmined, set, set, 1e-6, 'GCS');
        if (!best || f.setupMs + f.requestMs + f.processMs < best.setupMs + best.requestMs + best.processMs) best = f;
      }
      const per = (ms: number) => round((ms * 1000) / batch);
      omRows.push({
        batch,
        'request (hash + blind) µs/el': per(best!.requestMs),
        'process (server multiply) µs/el': per(best!.processMs),
        'intersect (unblind + look up) µs/el': per(best!.intersectMs),
        'setup (hash + multiply + GCS) µs/el': per(best!.setupMs),
      });
      data[`openmined/${batch}/setupUsPerElement`] = (best!.setupMs * 1000) / batch;
    }
  }

  return {
    name: 'peers',
    title: 'Peers per element: ours vs @cloudflare/voprf-ts (ristretto255-SHA512, VOPRF), same run; @openmined/psi.js steps',
    smoke: o.smoke,
    parameters: { ...o, elementsPerMeasurement: elements, rounds, peerElementsPerMeasurement: peerElements, peerRounds },
    data,
    notes: [
      `One process, same inputs (tel: numbers), same key, same batches; best of the rounds (ours on sodium ${rounds}, the others ${peerRounds}), each round at least ${elements.toLocaleString('en-US')} elements for ours on sodium and ${peerElements} for voprf-ts and ours on noble, in batches of the given size. blind = hash to group + multiply by a fresh blind; evaluate + proof = multiply by the key + one batched DLEQ proof (RFC 9497 §2.2.1); finalize + verify = proof check + unblind + hash.`,
      'voprf-ts is pure TypeScript on @noble/curves (its optional provider; its default sjcl provider has no ristretto255); it is async (WebCrypto for hashing). Ours on sodium = libsodium WASM + our SIMD modules; ours on noble = pure JS like the peer.',
      ...notes,
    ],
    sections: [
      { title: 'µs per element', rows },
      { title: 'Ratio: voprf-ts / ours (above 1: ours faster)', rows: ratios },
      { title: '@openmined/psi.js (ECDH-PSI, P-256, WASM): closest steps per element, same run', rows: omRows },
    ],
  };
}

async function measurePeer(peer: VoprfTsPeer, secretKey: Uint8Array, xs: Uint8Array[], batch: number, elements: number, rounds: number): Promise<Record<Step, number>> {
  const client = peer.client(peer.publicKey(secretKey));
  const server = peer.server(secretKey);
  const [fin, req] = await client.blind(xs);
  const evaluation = await server.blindEvaluate(req);
  return {
    blind: await perElement(batch, elements, rounds, async () => void (await client.blind(xs))),
    'evaluate + proof': await perElement(batch, elements, rounds, async () => void (await server.blindEvaluate(req))),
    'finalize + verify': await perElement(batch, elements, rounds, async () => void (await client.finalize(fin, evaluation))),
  };
}

/** Same key, same inputs: voprf-ts's server-side Evaluate and ours must agree, and a full voprf-ts round trip must give the same outputs. */
async function crossCheck(peer: VoprfTsPeer, suite: ReturnType<typeof createSuite>, secretKey: Uint8Array): Promise<boolean> {
  const xs = phoneInputs(16).map(utf8);
  const ours = suite.evaluate(secretKey, xs).map(hex);
  const server = peer.server(secretKey);
  const theirs = await Promise.all(xs.map(async (x) => hex(await server.evaluate(x))));
  const client = peer.client(peer.publicKey(secretKey));
  const [fin, req] = await client.blind(xs);
  const roundTrip = (await client.finalize(fin, await server.blindEvaluate(req))).map(hex);
  return ours.every((v, i) => v === theirs[i] && v === roundTrip[i]);
}
