/**
 * The discovery server's Prometheus metrics (spec/operations.md "Metrics"), in a registry of
 * their own (one per server: two servers in one process do not mix their counts).
 *
 * Privacy: every label value comes from a closed set written in this file or from an error
 * code of ProtocolErrorCodes / a transport rejection reason, never from the peer's input. No
 * identifier, token, account or blinded element can reach a label (test/ops-metrics.test.ts
 * scrapes after real syncs and searches the text for each of them).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** How a completed session got the directory's snapshot. */
export type SnapshotKind = 'cached' | 'delta' | 'download';

export class ServerMetrics {
  readonly registry: Registry;
  readonly sessions: Counter<'outcome'>;
  readonly identifiersEvaluated: Counter;
  readonly tokensCharged: Counter<'purpose'>;
  readonly labelsServed: Counter;
  readonly snapshotSessions: Counter<'kind'>;
  readonly rateLimited: Counter<'stage'>;
  readonly rejected: Counter<'reason'>;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly evaluationSeconds: Histogram;
  readonly sessionSeconds: Histogram;
  readonly poolPending: Gauge;
  readonly directoryVersion: Gauge;
  readonly directoryEpoch: Gauge;
  readonly directoryEntries: Gauge;
  readonly connections: Gauge;
  readonly directoryEvents: Counter<'event' | 'outcome'>;
  readonly ready: Gauge;
  /** Read at each scrape for contact_psi_connections (set once the server listens). */
  connectionsOf: (() => number) | undefined;

  /**
   * @param processMetrics also collect Node's default process metrics (CPU, memory, event loop lag)
   */
  constructor(options: { processMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    const registers = [registry];
    this.sessions = new Counter({ name: 'contact_psi_sessions_total', help: 'Sessions ended, by outcome (ok, or the error code)', labelNames: ['outcome'], registers });
    this.identifiersEvaluated = new Counter({ name: 'contact_psi_identifiers_evaluated_total', help: 'Blinded identifiers evaluated', registers });
    this.tokensCharged = new Counter({ name: 'contact_psi_quota_tokens_charged_total', help: 'Quota tokens charged to accounts, by purpose (sync, lookup)', labelNames: ['purpose'], registers });
    this.labelsServed = new Counter({ name: 'contact_psi_labels_served_total', help: 'Sealed labels asked for and answered', registers });
    this.snapshotSessions = new Counter({
      name: 'contact_psi_snapshot_sessions_total',
      help: 'Completed sessions by how the client got the snapshot: cached (already current), delta, download',
      labelNames: ['kind'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'contact_psi_rate_limited_total',
      help: 'Refusals for a limit: at the upgrade (HTTP 429: per-address or per-account connections) or in a session (quota, download budget)',
      labelNames: ['stage'],
      registers,
    });
    this.rejected = new Counter({ name: 'contact_psi_connections_rejected_total', help: 'Upgrades refused, by reason', labelNames: ['reason'], registers });
    this.bytesIn = new Counter({ name: 'contact_psi_bytes_received_total', help: 'Message payload bytes received from clients', registers });
    this.bytesOut = new Counter({ name: 'contact_psi_bytes_sent_total', help: 'Message payload bytes sent to clients', registers });
    this.evaluationSeconds = new Histogram({
      name: 'contact_psi_evaluation_seconds',
      help: 'Time to evaluate one chunk of blinded identifiers (with its DLEQ proof), queueing on the pool included',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.sessionSeconds = new Histogram({
      name: 'contact_psi_session_seconds',
      help: 'Session duration, from the upgrade to the close',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.poolPending = new Gauge({ name: 'contact_psi_pool_pending_chunks', help: 'Evaluation chunks handed to the evaluator and not yet done (the pool queue)', registers });
    this.directoryVersion = new Gauge({ name: 'contact_psi_directory_version', help: 'Version of the snapshot served', registers });
    this.directoryEpoch = new Gauge({ name: 'contact_psi_directory_epoch', help: 'Epoch whose key evaluates new sessions', registers });
    this.directoryEntries = new Gauge({ name: 'contact_psi_directory_entries', help: 'Entries in the snapshot served', registers });
    const self = this;
    this.connections = new Gauge({
      name: 'contact_psi_connections',
      help: 'Open connections (and upgrades in progress)',
      registers,
      collect() {
        if (self.connectionsOf) this.set(self.connectionsOf());
      },
    });
    this.directoryEvents = new Counter({
      name: 'contact_psi_directory_events_total',
      help: 'Directory refreshes and rotations, by outcome',
      labelNames: ['event', 'outcome'],
      registers,
    });
    this.ready = new Gauge({ name: 'contact_psi_ready', help: '1 once the snapshot is built and the server listens, 0 before and after', registers });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'contact_psi_' });
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
