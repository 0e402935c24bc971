/**
 * What one discovery session did, in counts only, for the metrics and the session log line:
 * identifiers evaluated, quota tokens charged, labels served, and how the snapshot reached
 * the client. Gathered by wrapping what the session is handed (its backend, its quota store,
 * its offload) and its result event, so src/protocol stays free of I/O and of metrics.
 * Nothing here keeps a blinded element, a token or an identifier: only numbers.
 */
import { ProtocolError } from '../protocol/errors.js';
import type { DiscoveryBackend } from '../protocol/discovery/backend.js';
import { balance, DEFAULT_LOOKUP_POLICY, DEFAULT_SYNC_POLICY, type BucketPolicy, type BucketState, type QuotaStore } from '../protocol/discovery/quota.js';
import type { DiscoveryServerSession } from '../protocol/discovery/server.js';
import type { OprfOffload } from '../protocol/offload.js';
import type { ServerMetrics, SnapshotKind } from './server-metrics.js';

export interface SessionCounts {
  evaluated: number;
  charged: number;
  labels: number;
  snapshotBytes: number;
  /** A delta was read for this session (the client's snapshot was of the same epoch, older). */
  delta: boolean;
  /** The session reached its result (the labels were sent). */
  completed: boolean;
}

export const emptyCounts = (): SessionCounts => ({ evaluated: 0, charged: 0, labels: 0, snapshotBytes: 0, delta: false, completed: false });

export function snapshotKindOf(counts: SessionCounts): SnapshotKind {
  if (counts.snapshotBytes > 0) return 'download';
  return counts.delta ? 'delta' : 'cached';
}

/** The backend as the session sees it, noting whether a delta was served. */
export function observedBackend(backend: DiscoveryBackend, counts: SessionCounts): DiscoveryBackend {
  return new Proxy(backend, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (prop === 'delta' && typeof value === 'function') {
        return async (...args: unknown[]) => {
          const delta: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (delta !== undefined) counts.delta = true;
          return delta;
        };
      }
      // Bound, so that a backend with #private fields still works through the proxy.
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * The quota store as the session's ledger sees it, counting the tokens each charge takes
 * (the balance before the charge, refill included, less the balance after). Receipt
 * generations (`receipt:<account>`) are not charges and are passed through.
 */
export function observedQuotaStore(store: QuotaStore, policies: { sync?: BucketPolicy; lookup?: BucketPolicy }, onCharge: (purpose: 'sync' | 'lookup', tokens: number) => void): QuotaStore {
  const purposeOf = (key: string): 'sync' | 'lookup' | undefined => (key.startsWith('sync:') ? 'sync' : key.startsWith('lookup:') ? 'lookup' : undefined);
  const policyOf = (purpose: 'sync' | 'lookup') => (purpose === 'sync' ? (policies.sync ?? DEFAULT_SYNC_POLICY) : (policies.lookup ?? DEFAULT_LOOKUP_POLICY));
  const tokensTaken = (purpose: 'sync' | 'lookup', before: BucketState | undefined, after: BucketState) => Math.max(0, Math.round(balance(policyOf(purpose), before, after.updatedAt) - after.tokens));
  const observed: QuotaStore = {
    getBucket: (account) => store.getBucket(account),
    putBucket: (account, state) => store.putBucket(account, state),
  };
  if (store.updateBucket) {
    const update = store.updateBucket.bind(store);
    observed.updateBucket = async (account, fn) => {
      const purpose = purposeOf(account);
      if (!purpose) return update(account, fn);
      // The transaction may run `fn` more than once (a retry): only the last run counts.
      let tokens = 0;
      const result = await update(account, (state) => {
        const next = fn(state);
        tokens = tokensTaken(purpose, state, next);
        return next;
      });
      onCharge(purpose, tokens);
      return result;
    };
  }
  if (store.writeQuota && store.chargedRecord) {
    const write = store.writeQuota.bind(store);
    observed.chargedRecord = store.chargedRecord.bind(store);
    observed.writeQuota = async (request) => {
      // The transaction may run the updates more than once (a retry): only the last run counts.
      const taken = new Map<string, { purpose: 'sync' | 'lookup'; tokens: number }>();
      const buckets = request.buckets.map(({ key, update }) => {
        const purpose = purposeOf(key);
        if (!purpose) return { key, update };
        return {
          key,
          update: (state: BucketState | undefined) => {
            const next = update(state);
            taken.set(key, { purpose, tokens: tokensTaken(purpose, state, next) });
            return next;
          },
        };
      });
      const result = await write({ ...request, buckets });
      for (const { purpose, tokens } of taken.values()) onCharge(purpose, tokens);
      return result;
    };
  }
  return observed;
}

/** The offload with each evaluation timed and the chunks in flight counted (the pool's queue). */
export function observedOffload(offload: OprfOffload, metrics: ServerMetrics | undefined): OprfOffload {
  if (!metrics) return offload;
  return {
    blindWith: (suite, inputs, blinds) => offload.blindWith(suite, inputs, blinds),
    finalize: (suite, state, evaluated, verify) => offload.finalize(suite, state, evaluated, verify),
    async blindEvaluateVerifiable(suite, secretKey, blinded, rng) {
      metrics.poolPending.inc();
      const stop = metrics.evaluationSeconds.startTimer();
      try {
        return await offload.blindEvaluateVerifiable(suite, secretKey, blinded, rng);
      } finally {
        stop();
        metrics.poolPending.dec();
      }
    },
  };
}

/**
 * Evaluation on this thread, as the session does without an offload, but through the
 * offload interface so it is timed like the pool's (workers: 0).
 */
export const inlineOffload: OprfOffload = {
  blindWith: async (suite, inputs, blinds) => suite.blindWith(inputs, blinds),
  finalize: async (suite, state, evaluated, verify) => suite.finalize(state, evaluated, verify),
  blindEvaluateVerifiable: async (suite, secretKey, blinded, rng) => suite.blindEvaluateVerifiable(secretKey, blinded, rng),
};

/** Notes the session's result counts when its result event is polled. */
export function observeResult(session: DiscoveryServerSession, counts: SessionCounts): DiscoveryServerSession {
  const pollEvent = session.pollEvent.bind(session);
  session.pollEvent = () => {
    const event = pollEvent();
    if (event?.type === 'result') {
      counts.completed = true;
      counts.evaluated = event.result.evaluated;
      counts.labels = event.result.labelsRequested;
      counts.snapshotBytes = event.result.snapshotBytesSent;
    }
    return event;
  };
  return session;
}

/** The outcome label of a session: `ok`, or its error code (a closed set: ProtocolErrorCodes). */
export function outcomeOf(report: { outcome: 'result' | 'failed'; code?: ProtocolError['code'] }): string {
  return report.outcome === 'result' ? 'ok' : (report.code ?? 'internal');
}
