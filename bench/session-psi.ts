/**
 * Session PSI: client n items against server m items, in one process, each phase timed and
 * the bytes each way counted (exactly what a transport carries), ours and the peer on the
 * same sets in the same run.
 */
import { randomBytes } from 'node:crypto';
import { loadGroup, type BackendName } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { ClientSession } from '../src/protocol/client-session.js';
import { ServerSession } from '../src/protocol/server-session.js';
import { prepareServerSet, type PreparedServerSet } from '../src/protocol/server-set.js';
import type { OprfSuite } from '../src/oprf/suite.js';
import type { EncodingKind } from '../src/setenc/index.js';
import { loadOpenMined, openMinedSession, OPENMINED_INSTALL, type OpenMinedStructure } from './peers/openmined.js';
import { seriesFromRows } from './plot.js';
import type { Report, Row } from './report.js';
import { round, timeMs, timeMsAsync } from './timing.js';
import { loadPool } from './pool.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const utf8 = (s: string) => new TextEncoder().encode(s);
export const FPR = 1e-6;

/** The sets of one cell: the server's m numbers, the client's n, a tenth (at most) in common. */
export function psiSets(clientSize: number, serverSize: number): { server: string[]; client: string[]; overlap: number } {
  const server = Array.from({ length: serverSize }, (_, i) => `tel:+1415${String(i).padStart(7, '0')}`);
  const overlap = Math.max(1, Math.min(Math.floor(clientSize / 10), Math.floor(serverSize / 10)));
  const step = Math.floor(serverSize / overlap);
  const client = [
    ...Array.from({ length: overlap }, (_, i) => server[i * step]),
    ...Array.from({ length: clientSize - overlap }, (_, i) => `tel:+4179${String(i).padStart(7, '0')}`),
  ];
  return { server, client, overlap };
}

export interface OurSessionFigures {
  encodingBuildMs: number;
  /** CPU of the process (all threads) while the server handled the hello. */
  encodingBuildCpuMs: number;
  blindMs: number;
  evaluateMs: number;
  finalizeMs: number;
  bytesUp: number;
  bytesDown: number;
  matches: number;
}

/** One session of ours against an already prepared server set (k * H(y) for every y). */
export function ourSession(suite: OprfSuite, prepared: PreparedServerSet, client: readonly Uint8Array[], encoding: EncodingKind): OurSessionFigures {
  const serverSession = new ServerSession({ prepared, rng, now: 0 });
  const clientSession = new ClientSession({ suite, items: client, rng, encoding, falsePositiveRate: FPR, chunkSize: 4096 });
  const f: OurSessionFigures = { encodingBuildMs: 0, encodingBuildCpuMs: 0, blindMs: 0, evaluateMs: 0, finalizeMs: 0, bytesUp: 0, bytesDown: 0, matches: -1 };
  let setupSent = false;
  clientSession.start(0);
  for (let moved = true; moved; ) {
    moved = false;
    for (let b = clientSession.pollTransmit(); b; b = clientSession.pollTransmit()) {
      moved = true;
      f.bytesUp += b.length;
      const cpu = process.cpuUsage();
      const t = timeMs(() => serverSession.handle(b!, 0));
      if (!setupSent) {
        f.encodingBuildMs += t.ms; // the hello: the server builds and serializes the encoding
        const used = process.cpuUsage(cpu);
        f.encodingBuildCpuMs += (used.user + used.system) / 1000;
        setupSent = true;
      } else f.evaluateMs += t.ms;
    }
    for (let b = serverSession.pollTransmit(); b; b = serverSession.pollTransmit()) {
      moved = true;
      f.bytesDown += b.length;
      const before = clientSession.currentState;
      const t = timeMs(() => clientSession.handle(b!, 0));
      if (before === 'awaiting_setup') f.blindMs += t.ms; // parses the encoding, blinds, sends queries
      else f.finalizeMs += t.ms;
    }
  }
  for (let e = clientSession.pollEvent(); e; e = clientSession.pollEvent()) {
    if (e.type === 'result' && e.result.mode === 'intersection') f.matches = e.result.matches.length;
    if (e.type === 'failed') throw e.error;
  }
  for (let e = serverSession.pollEvent(); e; e = serverSession.pollEvent()) if (e.type === 'failed') throw e.error;
  return f;
}

export interface SessionGridOptions {
  clientSizes: readonly number[];
  serverSizes: readonly number[];
  encodings: readonly EncodingKind[];
  backend: BackendName;
  /** The peer runs only on cells with client and server at most this (it is ~10x slower). */
  peerMax: number;
  peerStructure: OpenMinedStructure;
  smoke: boolean;
  /** Server setup on the worker pool (prepareServerSetParallel) when src/parallel is there. */
  pool: boolean;
}

export async function sessionPsiGrid(o: SessionGridOptions): Promise<Report> {
  const group = await loadGroup('ristretto255', o.backend);
  const suite = createSuite('ristretto255-SHA512', Modes.OPRF, group);
  const peer = await loadOpenMined();
  const rows: Row[] = [];
  const ratios: Row[] = [];
  const notes: string[] = [
    `Ours: ristretto255-SHA512 OPRF, backend ${group.backend}, whole-query false-positive rate ${FPR}; setup = k*H(y) for every server item + building the encoding.`,
    'Phases: request = client parses the setup, blinds and serializes; process = server evaluates; intersect = client unblinds, hashes, looks up.',
  ];
  if (!peer) notes.push(`peer not installed: run ${OPENMINED_INSTALL}`);
  else notes.push(`Peer: ${peer.label}, data structure ${o.peerStructure}, same sets, same fpr, same process; run on cells with both sizes <= ${o.peerMax.toLocaleString('en-US')} (--peer-max).`);

  const pool = o.pool ? await loadPool() : undefined;
  if (pool && !pool.ok) notes.push(`--pool: ${pool.reason}`);
  const parallel = pool?.ok && pool.module.prepareServerSetParallel ? pool : undefined;
  if (parallel) notes.push(`Our server setup ran on the worker pool (${parallel.pool.size} threads, prepareServerSetParallel); the peer is single-threaded.`);
  for (const serverSize of o.serverSizes) {
    const serverItems = psiSets(1, serverSize).server.map(utf8);
    // CPU of the whole process: with --pool the workers' threads too.
    const prepareCpu = process.cpuUsage();
    const prepare = parallel
      ? await timeMsAsync(() => parallel.module.prepareServerSetParallel!(parallel.pool, suite, serverItems, rng))
      : timeMs(() => prepareServerSet(suite, serverItems, rng));
    const prepareUsed = process.cpuUsage(prepareCpu);
    const prepareCpuMs = (prepareUsed.user + prepareUsed.system) / 1000;
    console.log(`session-psi: server ${serverSize}: prepared in ${prepare.ms.toFixed(0)} ms`);
    for (const clientSize of o.clientSizes) {
      const { server, client, overlap } = psiSets(clientSize, serverSize);
      const clientBytes = client.map(utf8);
      const cell = { client: clientSize, server: serverSize };
      const ours: Record<string, number> = {};
      for (const encoding of o.encodings) {
        let f: OurSessionFigures;
        try {
          f = ourSession(suite, prepare.value, clientBytes, encoding);
        } catch (err) {
          // An encoding that cannot meet the query's false-positive rate at this size is a
          // finding, not a reason to stop the grid.
          rows.push({ implementation: `ours (${encoding})`, ...cell, 'setup ms': null, error: (err as Error).message.slice(0, 160) });
          console.log(JSON.stringify(rows.at(-1)));
          continue;
        }
        if (f.matches !== overlap) throw new Error(`ours/${encoding}: expected ${overlap} matches, got ${f.matches}`);
        const setupMs = prepare.ms + f.encodingBuildMs;
        ours[encoding] = setupMs;
        rows.push({
          implementation: `ours (${encoding})`,
          ...cell,
          'setup ms': round(setupMs),
          'setup µs/elem': round((setupMs * 1000) / serverSize),
          'request ms': round(f.blindMs),
          'process ms': round(f.evaluateMs),
          'intersect ms': round(f.finalizeMs),
          'total ms': round(setupMs + f.blindMs + f.evaluateMs + f.finalizeMs),
          'bytes up': f.bytesUp,
          'bytes down': f.bytesDown,
          'bytes per client item': round((f.bytesUp + f.bytesDown) / clientSize),
          matches: f.matches,
          'setup CPU µs/elem': round(((prepareCpuMs + f.encodingBuildCpuMs) * 1000) / serverSize),
        });
        console.log(JSON.stringify(rows.at(-1)));
      }
      if (peer && clientSize <= o.peerMax && serverSize <= o.peerMax) {
        const f = openMinedSession(peer, server, client, FPR, o.peerStructure);
        if (f.matches !== overlap) throw new Error(`peer: expected ${overlap} matches, got ${f.matches}`);
        rows.push({
          implementation: `openmined (${o.peerStructure})`,
          ...cell,
          'setup ms': round(f.setupMs),
          'setup µs/elem': round((f.setupMs * 1000) / serverSize),
          'request ms': round(f.requestMs),
          'process ms': round(f.processMs),
          'intersect ms': round(f.intersectMs),
          'total ms': round(f.setupMs + f.requestMs + f.processMs + f.intersectMs),
          'bytes up': f.bytesUp,
          'bytes down': f.bytesDown,
          'bytes per client item': round((f.bytesUp + f.bytesDown) / clientSize),
          matches: f.matches,
          'setup CPU µs/elem': round((f.setupCpuMs * 1000) / serverSize),
        });
        console.log(JSON.stringify(rows.at(-1)));
        const peerRow = rows.at(-1)!;
        for (const encoding of o.encodings) {
          const ourRow = rows.find((r) => r.implementation === `ours (${encoding})` && r.client === clientSize && r.server === serverSize && r['setup ms'] !== null);
          if (!ourRow) continue;
          const ratio = (col: string) => round(Number(peerRow[col]) / Number(ourRow[col]), 3);
          ratios.push({
            ours: encoding,
            ...cell,
            'setup: peer/ours': ratio('setup ms'),
            'request: peer/ours': ratio('request ms'),
            'process: peer/ours': ratio('process ms'),
            'intersect: peer/ours': ratio('intersect ms'),
            'total: peer/ours': ratio('total ms'),
            'bytes: peer/ours': round((Number(peerRow['bytes up']) + Number(peerRow['bytes down'])) / (Number(ourRow['bytes up']) + Number(ourRow['bytes down'])), 3),
            // CPU over all our threads against the peer's one: what the wall ratio tends to on
            // 2 idle cores is this x 2 (less our serial part); it moves much less with the load.
            'setup CPU: peer/ours': ratio('setup CPU µs/elem'),
          });
        }
      }
    }
  }
  if (pool?.ok) await pool.close();
  const seriesName = (r: Row) => `${String(r.implementation)}, client ${Number(r.client).toLocaleString('en-US')}`;
  return {
    name: parallel ? 'session-psi-pool' : 'session-psi',
    title: `Session PSI: wall time per phase and bytes each way${parallel ? ', our server setup on a worker pool' : ''}`,
    smoke: o.smoke,
    parameters: { ...o, backend: group.backend, poolThreads: parallel?.pool.size ?? 0 },
    notes,
    sections: [
      { title: 'Per cell', rows },
      { title: 'Ratios: peer / ours (above 1: ours is faster or smaller)', rows: ratios, notes: peer ? [] : ['peer not installed'] },
    ],
    plots: [
      {
        suffix: 'total',
        title: 'Session PSI: total time (setup + online) vs server size',
        xLabel: 'server set size',
        yLabel: 'total ms',
        logY: true,
        series: seriesFromRows(rows.filter((r) => r['total ms'] !== undefined), seriesName, (r) => Number(r.server), (r) => Number(r['total ms'])),
      },
      {
        suffix: 'setup',
        title: 'Session PSI: server setup per element vs server size',
        xLabel: 'server set size',
        yLabel: 'µs per server element',
        logY: true,
        series: seriesFromRows(
          rows.filter((r) => r.client === o.clientSizes[0] && r['setup ms'] !== null),
          (r) => String(r.implementation),
          (r) => Number(r.server),
          (r) => Number(r['setup µs/elem']),
        ),
      },
    ],
  };
}
