/**
 * Session PSI scenario: client n items against server m items, in one process, with the
 * wall time of each phase and the bytes each way (exactly what a transport would carry).
 */
import { randomBytes } from 'node:crypto';
import { loadGroup, type BackendName } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { ClientSession } from '../src/protocol/client-session.js';
import { ServerSession } from '../src/protocol/server-session.js';
import { prepareServerSet } from '../src/protocol/server-set.js';
import type { EncodingKind } from '../src/setenc/index.js';
import type { Row } from './report.js';
import { timeMs } from './timing.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const utf8 = (s: string) => new TextEncoder().encode(s);

export interface SessionPsiCase {
  clientSize: number;
  serverSize: number;
  encoding: EncodingKind;
  backend: BackendName;
  overlap?: number;
}

export async function sessionPsi(c: SessionPsiCase): Promise<Row> {
  const group = await loadGroup('ristretto255', c.backend);
  const suite = createSuite('ristretto255-SHA512', Modes.OPRF, group);
  const overlap = c.overlap ?? Math.floor(c.clientSize / 10);
  const server = Array.from({ length: c.serverSize }, (_, i) => utf8(`tel:+1415${String(i).padStart(7, '0')}`));
  const client = [
    ...Array.from({ length: overlap }, (_, i) => utf8(`tel:+1415${String(i * 3).padStart(7, '0')}`)),
    ...Array.from({ length: c.clientSize - overlap }, (_, i) => utf8(`tel:+4179${String(i).padStart(7, '0')}`)),
  ];

  const setup = timeMs(() => prepareServerSet(suite, server, rng));
  const serverSession = new ServerSession({ prepared: setup.value, rng, now: 0 });
  const clientSession = new ClientSession({ suite, items: client, rng, encoding: c.encoding, falsePositiveRate: 1e-6, chunkSize: 4096 });
  const phase = { 'server setup ms': setup.ms, 'encoding build ms': 0, 'client blind ms': 0, 'server evaluate ms': 0, 'client finalize+lookup ms': 0 };
  let up = 0;
  let down = 0;
  clientSession.start(0);
  for (let moved = true; moved; ) {
    moved = false;
    for (let b = clientSession.pollTransmit(); b; b = clientSession.pollTransmit()) {
      moved = true;
      up += b.length;
      const t = timeMs(() => serverSession.handle(b!, 0));
      if (serverSession.currentState === 'awaiting_queries' && phase['encoding build ms'] === 0) phase['encoding build ms'] = t.ms;
      else phase['server evaluate ms'] += t.ms;
    }
    for (let b = serverSession.pollTransmit(); b; b = serverSession.pollTransmit()) {
      moved = true;
      down += b.length;
      const before = clientSession.currentState;
      const t = timeMs(() => clientSession.handle(b!, 0));
      if (before === 'awaiting_setup') phase['client blind ms'] += t.ms;
      else phase['client finalize+lookup ms'] += t.ms;
    }
  }
  let matches = -1;
  for (let e = clientSession.pollEvent(); e; e = clientSession.pollEvent()) {
    if (e.type === 'result' && e.result.mode === 'intersection') matches = e.result.matches.length;
    if (e.type === 'failed') throw e.error;
  }
  if (matches !== overlap) throw new Error(`expected ${overlap} matches, got ${matches}`);
  const online = phase['encoding build ms'] + phase['client blind ms'] + phase['server evaluate ms'] + phase['client finalize+lookup ms'];
  return {
    backend: group.backend,
    encoding: c.encoding,
    client: c.clientSize,
    server: c.serverSize,
    ...phase,
    'online total ms': online,
    'bytes client→server': up,
    'bytes server→client': down,
    matches,
  };
}
