/**
 * A client of a fleet: sync against one node, and when that node goes away mid-sync (the
 * connection closed, refused, or timed out), retry on the next one. Nothing needs carrying
 * over: the OPRF outputs the first node answered and the quota receipt it issued were saved
 * as it failed (outputs first) under the directory identity, not the node's URL
 * (spec/sync-failover.md), and every node serves that identity and accepts the receipt (one
 * quota key, sealed in the database). That sharing holds for the listed nodes only: the list
 * is the user's word that they are the directory's (a signed dir.info is no such proof: any
 * URL can relay or replay it), so a label absence or a receipt of another URL never reaches
 * them. So the retry evaluates only what the first node did
 * not answer, and what it receipted is not charged again.
 */
import { ContactPsiError } from '../errors.js';
import { syncAddressBook, type SyncOptions, type SyncOutcome } from '../client/sync.js';

/** Failures of the node, not of the request: another node may well answer. */
const RETRYABLE = new Set(['closed', 'timeout', 'overloaded', 'connect_refused', 'dns_failure', 'tls_failure', 'connect_failed']);

export interface FleetSyncOptions extends Omit<SyncOptions, 'server' | 'fleet'> {
  /** Node URLs in the order to try them. */
  readonly servers: readonly string[];
  /** Told of each node given up on, with the error's code; the retry waits for it. */
  readonly onFailover?: (failed: string, code: string, next: string) => void | Promise<void>;
}

export interface FleetSyncOutcome extends SyncOutcome {
  /** The node that completed the sync. */
  readonly server: string;
  /** Nodes tried before it. */
  readonly failed: readonly string[];
}

export async function syncAcrossFleet(options: FleetSyncOptions): Promise<FleetSyncOutcome> {
  const { servers, onFailover, ...rest } = options;
  if (servers.length === 0) throw new Error('no fleet node to sync against');
  const failed: string[] = [];
  for (let i = 0; ; i++) {
    const server = servers[i]!;
    try {
      // The list is the user's declaration that these URLs are one directory's nodes: what the
      // client cannot verify (label absences, receipts) is shared among them (identity-share.ts).
      const outcome = await syncAddressBook({ ...rest, server, fleet: servers });
      return { ...outcome, server, failed };
    } catch (err) {
      const code = err instanceof ContactPsiError ? err.code : undefined;
      const next = servers[i + 1];
      if (code === undefined || !RETRYABLE.has(code) || next === undefined) throw err;
      failed.push(server);
      await onFailover?.(server, code, next);
    }
  }
}
