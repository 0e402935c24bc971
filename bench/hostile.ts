/**
 * `bench -- hostile` (issue 9 §2): legitimate discovery syncs against a real server (the
 * `serveDirectory` of `contact-psi serve`, SQLite directory, default transport options, in
 * a child process so its RSS and CPU are its own) first on a quiet server, then while
 * hostile clients on other loopback addresses do what the security review did:
 *
 * - big frames: frame headers declaring 64 MiB (refused by maxPayloadBytes), and headers of
 *   just under maxPayloadBytes followed by most of the payload, then a stall (the inbound
 *   budget evicts the largest holders);
 * - a connection flood from one address, each sending one byte of a frame every 20 s
 *   (the per-address cap refuses the rest, no-progress closes the trickle);
 * - slowloris: partial frames trickled one byte per 500 ms;
 * - pipelined `dir.snapshot.get` requests on sockets that never read.
 *
 * Reported: the server's peak RSS and CPU per phase, and the legitimate syncs' latency p50 /
 * p99 quiet vs under attack. Goals: peak RSS < 512 MiB, hostile p99 < 3x quiet p99.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { syncAddressBook } from '../src/client/sync.js';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas, type DirInfo } from '../src/protocol/discovery/messages.js';
import { SERVER_DEFAULTS, SUBPROTOCOL } from '../src/transport/ws/index.js';
import { syntheticBook } from './address-book.js';
import { ensureFixture, serveInChild, type ServingChild, type Usage } from './child-process.js';
import { benchCompiled } from './paths.js';
import type { Report, Row } from './report.js';
import { round } from './timing.js';

export interface HostileOptions {
  directoryUsers: number;
  contacts: number;
  /** Legitimate syncs in the quiet phase (the hostile phase runs at least as many). */
  quietSyncs: number;
  /** Length of the hostile phase. */
  seconds: number;
  bigFrameConnections: number;
  /** Payload each big-frame connection sends before stalling. */
  bigFrameBytes: number;
  floodConnections: number;
  slowlorisConnections: number;
  pipelineConnections: number;
  pipelinedRequests: number;
  smoke: boolean;
}

type Tally = Record<string, number>;
const bump = (t: Tally, key: string, n = 1) => void (t[key] = (t[key] ?? 0) + n);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a WebSocket from `localAddress`; undefined if refused or closed first. Tallies the outcome. */
function connect(url: string, localAddress: string, tally: Tally): Promise<WebSocket | undefined> {
  return new Promise((resolve) => {
    bump(tally, 'attempts');
    const ws = new WebSocket(url, [SUBPROTOCOL], { localAddress });
    let settled = false;
    let opened = false;
    const settle = (v: WebSocket | undefined) => {
      if (!settled) resolve(v);
      settled = true;
    };
    ws.on('error', () => settle(undefined));
    ws.once('open', () => {
      opened = true;
      bump(tally, 'opened');
      settle(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      bump(tally, `HTTP ${res.statusCode}`);
      ws.terminate();
      settle(undefined);
    });
    ws.once('close', (code) => {
      if (opened) bump(tally, `close ${code}`);
      settle(undefined);
    });
  });
}

const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: import('node:net').Socket })._socket;
const closedOf = (ws: WebSocket) => new Promise<void>((r) => (ws.readyState === WebSocket.CLOSED ? r() : ws.once('close', () => r())));

/** A binary frame header (FIN, 64-bit length, zero mask) declaring `length` payload bytes. */
function frameHeader(length: number): Buffer {
  const b = Buffer.alloc(14);
  b[0] = 0x82;
  b[1] = 0x80 | 127;
  b.writeBigUInt64BE(BigInt(length), 2);
  return b;
}

/**
 * A complete, non-final 1-byte fragment (the first one binary, then continuations). Control
 * frames may sit between fragments, so the peer's automatic pongs still reach the server:
 * the heartbeat sees a live peer, and only the no-progress deadline can end the trickle.
 */
function fragment(first: boolean): Buffer {
  return Buffer.from([first ? 0x02 : 0x00, 0x80 | 1, 0, 0, 0, 0, 0x2a]);
}

function writeSafely(ws: WebSocket, bytes: Buffer): void {
  const s = socketOf(ws);
  if (s && !s.destroyed && ws.readyState === WebSocket.OPEN) s.write(bytes);
}

interface Attack {
  name: string;
  tally: Tally;
  run(until: number): Promise<void>;
}

function bigFrames(url: string, o: HostileOptions): Attack {
  const tally: Tally = {};
  const one = async (i: number, until: number) => {
    for (let round = 0; Date.now() < until; round++) {
      const ws = await connect(url, '127.0.0.2', tally);
      if (!ws) {
        await pause(100);
        continue;
      }
      if ((round + i) % 2 === 0) {
        // 64 MiB declared: refused from the header alone (1009).
        writeSafely(ws, frameHeader(64 * 1024 * 1024));
      } else {
        writeSafely(ws, frameHeader(SERVER_DEFAULTS.maxPayloadBytes - 1));
        const chunk = Buffer.alloc(Math.min(1024 * 1024, o.bigFrameBytes), 0x5a);
        for (let sent = 0; sent < o.bigFrameBytes && ws.readyState === WebSocket.OPEN; sent += chunk.length) {
          writeSafely(ws, chunk);
          bump(tally, 'bytes sent', chunk.length);
          await pause(10);
        }
      }
      // Stall until the server closes us (or the phase ends).
      await Promise.race([closedOf(ws), pause(Math.max(0, until - Date.now()))]);
      ws.terminate();
    }
  };
  return { name: 'big frames (127.0.0.2)', tally, run: (until) => Promise.all(Array.from({ length: o.bigFrameConnections }, (_, i) => one(i, until))).then(() => {}) };
}

function flood(url: string, o: HostileOptions): Attack {
  const tally: Tally = {};
  return {
    name: 'connection flood, a 1-byte fragment / 20 s, pongs answered (127.0.0.3)',
    tally,
    async run(until) {
      const sockets = (await Promise.all(Array.from({ length: o.floodConnections }, () => connect(url, '127.0.0.3', tally)))).filter((w): w is WebSocket => !!w);
      for (const ws of sockets) writeSafely(ws, fragment(true));
      while (Date.now() < until) {
        await pause(Math.min(20_000, Math.max(0, until - Date.now())));
        for (const ws of sockets) writeSafely(ws, fragment(false));
      }
      for (const ws of sockets) ws.terminate();
    },
  };
}

function slowloris(url: string, o: HostileOptions): Attack {
  const tally: Tally = {};
  return {
    name: 'slowloris: half declare 1 MiB and trickle a byte / 500 ms (no pongs get through), half trickle 1-byte fragments (pongs do) (127.0.0.4)',
    tally,
    async run(until) {
      const sockets = (await Promise.all(Array.from({ length: o.slowlorisConnections }, () => connect(url, '127.0.0.4', tally)))).filter((w): w is WebSocket => !!w);
      sockets.forEach((ws, i) => writeSafely(ws, i % 2 ? fragment(true) : frameHeader(1024 * 1024)));
      while (Date.now() < until) {
        await pause(500);
        sockets.forEach((ws, i) => writeSafely(ws, i % 2 ? fragment(false) : Buffer.of(7)));
      }
      for (const ws of sockets) ws.terminate();
    },
  };
}

function pipelined(url: string, o: HostileOptions): Attack {
  const tally: Tally = {};
  const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
  const one = async (until: number) => {
    while (Date.now() < until) {
      const ws = await connect(url, '127.0.0.5', tally);
      if (!ws) {
        await pause(100);
        continue;
      }
      const info = new Promise<DirInfo | undefined>((resolve) => {
        ws.once('message', (data) => {
          try {
            const m = decodeMessage<{ t: string }>(new Uint8Array(data as Buffer), schemas, DEFAULT_DISCOVERY_LIMITS.maxMessageBytes);
            resolve(m.t === 'dir.info' ? (m as DirInfo) : undefined);
          } catch {
            resolve(undefined);
          }
        });
        ws.once('close', () => resolve(undefined));
      });
      ws.send(encodeMessage({ t: 'dir.hello', suite: 'ristretto255-SHA512' }));
      const i = await info;
      if (i) {
        ws.on('message', (data) => bump(tally, 'bytes received', (data as Buffer).length));
        const length = Math.min(i.size, DEFAULT_DISCOVERY_LIMITS.maxPartBytes);
        for (let r = 0; r < o.pipelinedRequests; r++) ws.send(encodeMessage({ t: 'dir.snapshot.get', epoch: i.epoch, version: i.version, offset: 0, length }));
        bump(tally, 'requests sent', o.pipelinedRequests);
        // Never read the answers: the server's output backs up against its high-water mark.
        socketOf(ws).pause();
      }
      await Promise.race([closedOf(ws), pause(Math.max(0, until - Date.now()))]);
      ws.terminate();
    }
  };
  return { name: 'pipelined dir.snapshot.get, never read (127.0.0.5)', tally, run: (until) => Promise.all(Array.from({ length: o.pipelineConnections }, () => one(until))).then(() => {}) };
}

/** Every attack at once until `until`; what each saw (runs in the attacker process, hostile-attacker.ts). */
export async function runAttacks(url: string, o: HostileOptions, until: number): Promise<{ tallies: Record<string, Tally>; cpuMs: number }> {
  const attacks = [bigFrames(url, o), flood(url, o), slowloris(url, o), pipelined(url, o)];
  await Promise.all(attacks.map((a) => a.run(until)));
  const cpu = process.cpuUsage();
  return { tallies: Object.fromEntries(attacks.map((a) => [a.name, a.tally])), cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** The attackers in a process of their own, so they take neither the server's nor the legitimate client's event loop. */
function attackInChild(url: string, o: HostileOptions, until: number): Promise<{ tallies: Record<string, Tally>; cpuMs: number }> {
  const child = fork(join(benchCompiled, 'hostile-attacker.js'), [url, JSON.stringify(o), String(until)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { tallies: Record<string, Tally>; cpuMs: number }) => resolve(m));
    child.once('exit', (code) => reject(new Error(`attacker process exited (${code}) before reporting`)));
  });
}

const percentile = (values: readonly number[], p: number): number => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

interface Phase {
  latencies: number[];
  failures: number;
  cpuMs: number;
  wallMs: number;
  peakRssMiB: number;
}

/** Samples the child's RSS every 200 ms while `work` runs. */
async function measured(server: ServingChild, work: () => Promise<{ latencies: number[]; failures: number }>): Promise<Phase> {
  const before = await server.child.usage();
  const started = performance.now();
  let peak = before.rssMiB;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const u: Usage = await server.child.usage();
      peak = Math.max(peak, u.rssMiB);
      await pause(200);
    }
  })();
  const result = await work();
  sampling = false;
  await sampler;
  const after = await server.child.usage();
  return {
    ...result,
    cpuMs: (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000,
    wallMs: performance.now() - started,
    peakRssMiB: Math.max(peak, after.rssMiB),
  };
}

export async function hostileScenario(o: HostileOptions): Promise<Report> {
  const meta = await ensureFixture(o.directoryUsers, o.smoke);
  const server = await serveInChild(meta.path);
  const tmpRoot = mkdtempSync(join(tmpdir(), 'contact-psi-hostile-'));
  let n = 0;
  const syncOnce = async (phase: { latencies: number[]; failures: number }) => {
    const { book } = syntheticBook(o.contacts, o.directoryUsers, 0.25, ++n);
    const cacheDir = mkdtempSync(join(tmpRoot, 'c-'));
    const t = performance.now();
    try {
      await syncAddressBook({ server: server.url, book, cacheDir });
      phase.latencies.push(performance.now() - t);
    } catch (err) {
      phase.failures++;
      console.log(`legitimate sync failed: ${(err as Error).message}`);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  };
  let attacks: { tallies: Record<string, Tally>; cpuMs: number } = { tallies: {}, cpuMs: NaN };
  let quiet: Phase;
  let hostile: Phase;
  try {
    // Warm-up (WASM, JIT on both sides), not measured.
    await syncOnce({ latencies: [], failures: 0 });
    quiet = await measured(server, async () => {
      const phase = { latencies: [] as number[], failures: 0 };
      for (let i = 0; i < o.quietSyncs; i++) await syncOnce(phase);
      return phase;
    });
    hostile = await measured(server, async () => {
      const until = Date.now() + o.seconds * 1000;
      const running = attackInChild(server.url, o, until).then((r) => void (attacks = r));
      await pause(Math.min(2000, (o.seconds * 1000) / 4)); // let the attacks take hold
      const phase = { latencies: [] as number[], failures: 0 };
      while (Date.now() < until || phase.latencies.length + phase.failures < o.quietSyncs) await syncOnce(phase);
      await running;
      return phase;
    });
  } finally {
    rmSync(tmpRoot, { recursive: true, force: true });
  }
  const end = await server.child.stop();
  const maxRssMiB = end?.maxRssMiB ?? NaN;
  const p99Quiet = percentile(quiet.latencies, 99);
  const p99Hostile = percentile(hostile.latencies, 99);
  const peakRss = Math.max(quiet.peakRssMiB, hostile.peakRssMiB, Number.isFinite(maxRssMiB) ? maxRssMiB : 0);
  const syncRow = (name: string, p: Phase): Row => ({
    phase: name,
    syncs: p.latencies.length,
    failed: p.failures,
    'p50 ms': round(percentile(p.latencies, 50)),
    'p99 ms': round(percentile(p.latencies, 99)),
    'max ms': round(Math.max(...p.latencies)),
  });
  const serverRow = (name: string, p: Phase): Row => ({
    phase: name,
    'wall s': round(p.wallMs / 1000),
    'server CPU s': round(p.cpuMs / 1000),
    'server CPU % of a core': round((100 * p.cpuMs) / p.wallMs),
    'peak RSS MiB (sampled)': round(p.peakRssMiB),
  });
  const attackRows: Row[] = Object.entries(attacks.tallies).map(([name, tally]) => ({ attack: name, ...Object.fromEntries(Object.entries(tally).sort()) }));
  for (const r of attackRows) console.log(JSON.stringify(r));
  const rssOk = peakRss < 512;
  const latencyOk = p99Hostile < 3 * p99Quiet;
  return {
    name: 'hostile',
    title: `Legitimate syncs while hostile clients attack the server (${o.directoryUsers.toLocaleString('en-US')}-user directory, ${o.contacts} contacts per sync)`,
    smoke: o.smoke,
    parameters: { ...o, fixture: meta.path, transportDefaults: { ...SERVER_DEFAULTS, accountOf: undefined, clock: undefined } },
    data: { peakRssMiB: peakRss, maxRssMiB, p50QuietMs: percentile(quiet.latencies, 50), p99QuietMs: p99Quiet, p50HostileMs: percentile(hostile.latencies, 50), p99HostileMs: p99Hostile, rssOk, latencyOk, attacks: attacks.tallies, attackerCpuMs: attacks.cpuMs },
    notes: [
      `Goals: server peak RSS < 512 MiB: ${rssOk ? 'met' : 'NOT met'} (${round(peakRss)} MiB, getrusage max ${round(maxRssMiB)} MiB over the whole run, fixture open included); hostile p99 < 3x quiet p99: ${latencyOk ? 'met' : 'NOT met'} (${round(p99Hostile)} ms vs ${round(p99Quiet)} ms, ${round(p99Hostile / p99Quiet)}x).`,
      'Server: serveDirectory (as `contact-psi serve`) on a prebuilt SQLite directory in a child process, no worker pool, default transport options (maxPayloadBytes 9 MiB, inbound budget 256 MiB, 256 connections per address, no-progress 60 s). Its RSS is sampled every 200 ms over IPC.',
      `Legitimate client: syncAddressBook from 127.0.0.1 with a fresh cache each time (the snapshot is downloaded every sync), one at a time; the hostile clients run in a third process from 127.0.0.2-5 (${round(attacks.cpuMs / 1000)} s of CPU), all three on the same 2 shared cores.`,
      'Attack tallies: attempts / opened connections, HTTP statuses of refused upgrades (429: per-address cap), and close codes seen by the attacker (1009: frame over maxPayloadBytes; 4503: evicted by the inbound budget; 4408: no progress (noProgressTimeoutMs, 60 s); 1006: terminated, by the heartbeat (a peer inside a partial frame cannot get a pong through) or by the attacker itself at the end of the phase). Closes are counted for opened connections only.',
    ],
    sections: [
      { title: 'Legitimate syncs (client wall time)', rows: [syncRow('quiet', quiet), syncRow('under attack', hostile)] },
      { title: 'Server process', rows: [serverRow('quiet', quiet), serverRow('under attack', hostile)] },
      { title: 'Hostile clients', rows: attackRows },
    ],
  };
}
