import { loadGroup } from '../../src/group/index.js';
import { nobleP256 } from '../../src/group/noble.js';
import type { Group } from '../../src/group/types.js';
import { createSuite, Modes, type Mode, type SuiteId } from '../../src/oprf/index.js';
import { ClientSession, type ClientSessionOptions } from '../../src/protocol/client-session.js';
import { ServerSession } from '../../src/protocol/server-session.js';
import { prepareServerSet } from '../../src/protocol/server-set.js';
import { runSessionPair, type PairHooks } from '../../src/protocol/session-pair.js';
import { seededRng } from './rng.js';

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

// Session tests run ristretto255 on the fast backend (byte-identical to noble, proven in
// test/group-backends.test.ts); noble keeps P-256.
export const suiteGroups: Record<SuiteId, Group> = {
  'ristretto255-SHA512': await loadGroup('ristretto255', 'sodium'),
  'P256-SHA256': nobleP256,
};

export interface PsiRun {
  suite?: SuiteId;
  mode?: Mode;
  group?: Group;
  client: string[];
  server: string[];
  seed?: number;
  options?: Partial<Omit<ClientSessionOptions, 'suite' | 'items' | 'rng'>>;
  hooks?: PairHooks;
}

/** One whole session in memory; returns the pair outcome plus the sessions. */
export function runPsi(run: PsiRun) {
  const id = run.suite ?? 'ristretto255-SHA512';
  const suite = createSuite(id, run.mode ?? Modes.OPRF, run.group ?? suiteGroups[id]);
  const rng = seededRng(run.seed ?? 1);
  const prepared = prepareServerSet(suite, run.server.map(utf8), rng);
  const server = new ServerSession({ prepared, rng, now: 0, limits: run.options?.limits });
  const client = new ClientSession({ suite, items: run.client.map(utf8), rng: seededRng((run.seed ?? 1) + 1000), ...run.options });
  const outcome = runSessionPair(client, server, 0, run.hooks);
  return { ...outcome, clientSession: client, serverSession: server, suite };
}

/** The indices of client items that are in the server set: what the intersection must be. */
export function plainIntersection(client: string[], server: string[]): number[] {
  const s = new Set(server);
  return client.flatMap((x, i) => (s.has(x) ? [i] : []));
}
