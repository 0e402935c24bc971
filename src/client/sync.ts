/**
 * Sync an address book against a directory server: parse and normalize the contacts,
 * run one discovery session over WebSocket, keep the snapshot cache and the pinned key
 * up to date, and map matches back to address-book entries.
 */
import { randomBytes } from 'node:crypto';
import { contactsByIdentifier, uniqueIdentifiers, type AddressBook } from '../contacts/index.js';
import { loadGroup, type BackendName } from '../group/index.js';
import { groupIdOf } from '../oprf/suite-group.js';
import { createSuite, Modes, type SuiteId } from '../oprf/index.js';
import { DiscoveryClientSession, type DiscoveryResult } from '../protocol/discovery/client.js';
import type { SessionEvent } from '../protocol/session-core.js';
import { runClientSession } from '../transport/ws/index.js';
import { SnapshotCache } from './snapshot-cache.js';

export interface SyncOptions {
  server: string;
  book: AddressBook;
  cacheDir: string;
  token?: string;
  suite?: SuiteId;
  backend?: BackendName;
  /** A public key from configuration: the directory must present exactly this key. */
  pinnedPublicKey?: Uint8Array;
  onEvent?: (event: SessionEvent<DiscoveryResult>) => void;
  /** Called when the directory's key differs from the one seen before (a new epoch). */
  onKeyChange?: (previous: { epoch: number }, current: { epoch: number }) => void;
}

export interface SyncMatch {
  name: string;
  identifier: string;
  userId: string;
  label: string;
}

export interface SyncOutcome {
  matches: SyncMatch[];
  result: DiscoveryResult;
  identifiersChecked: number;
}

const labelText = (label: Uint8Array): string => {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(label);
  return /^[\x20-\x7e]*$/.test(text) ? text : `base64:${Buffer.from(label).toString('base64')}`;
};

export async function syncAddressBook(options: SyncOptions): Promise<SyncOutcome> {
  const suiteId = options.suite ?? 'ristretto255-SHA512';
  const group = await loadGroup(groupIdOf(suiteId), options.backend ?? 'auto');
  const suite = createSuite(suiteId, Modes.VOPRF, group);
  const cache = new SnapshotCache(options.cacheDir, options.server);
  const identifiers = uniqueIdentifiers(options.book);
  const seen = cache.pinned();
  const session = new DiscoveryClientSession({
    suite,
    identifiers,
    rng: (n) => new Uint8Array(randomBytes(n)),
    cache: cache.load(),
    pinnedPublicKey: options.pinnedPublicKey,
    // Checked as soon as dir.info arrives, before anything is evaluated.
    knownKey: seen,
  });
  const result = await runClientSession(options.server, session, { token: options.token, onEvent: options.onEvent });

  // Trust on first use: a key change within one epoch is an attack (the session refuses it);
  // a change with a new epoch is a rotation and only worth a warning.
  const { epoch, publicKey } = result.snapshot;
  if (seen && !Buffer.from(seen.publicKey).equals(Buffer.from(publicKey))) options.onKeyChange?.({ epoch: seen.epoch }, { epoch });
  cache.pin(epoch, publicKey);
  if (!result.cacheHit) cache.save(result.snapshot);

  const byIdentifier = contactsByIdentifier(options.book);
  const matches: SyncMatch[] = [];
  for (const m of result.matches) {
    for (const contact of byIdentifier.get(m.identifier) ?? []) {
      matches.push({ name: contact.name, identifier: m.identifier, userId: m.userId, label: labelText(m.label) });
    }
  }
  matches.sort((a, b) => a.name.localeCompare(b.name) || a.identifier.localeCompare(b.identifier));
  return { matches, result, identifiersChecked: identifiers.length };
}
