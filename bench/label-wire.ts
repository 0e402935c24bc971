/**
 * `bench -- label-wire`: wire bytes per contact of a first sync in the epoch (snapshot
 * cached), by message type, with the real client and server sessions over a real signed
 * directory (Directory + DirectoryDiscoveryBackend, in memory), in process: what `scale`
 * measures as `cached-new/bytesPerContact`, without the import and the sockets (issue 13 §1).
 *
 * The bytes depend on the directory's size only through its user ids (`u<i>` as `scale`
 * names them: 7 bytes for most users of 10^6) and a few digits of dir.info, not through
 * its entries: so a directory of `users` entries stands for one of `shape` entries by naming
 * entry k `u<k * shape / users>`, and the registered contacts are the ones `scale` picks
 * (every (users / registered)-th entry): the same user ids as in the `shape`-user directory.
 */
import { randomBytes } from 'node:crypto';
import { DirectoryDiscoveryBackend } from '../src/directory/discovery-backend.js';
import { MemoryStore } from '../src/directory/memory-store.js';
import { Directory } from '../src/directory/registry.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { decodeMessage } from '../src/protocol/codec.js';
import { DiscoveryClientSession } from '../src/protocol/discovery/client.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../src/protocol/discovery/messages.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { absentIdentifier, registeredIdentifier } from './directory-fixture.js';
import type { Report, Row } from './report.js';
import { round } from './timing.js';

export interface LabelWireOptions {
  /** Entries of the directory built in memory. */
  users: number;
  contacts: number;
  /** Directory sizes whose user ids are reproduced. */
  shapes: readonly number[];
  registeredShare: number;
  /** Items per dir.evaluate (syncAddressBook with a worker pool: 1,024). */
  chunkItems: number;
  smoke: boolean;
}

const MESSAGE_TYPES = ['dir.hello', 'dir.info', 'dir.evaluate', 'dir.evaluated', 'dir.labels.get', 'dir.labels'] as const;

export async function labelWireScenario(o: LabelWireOptions): Promise<Report> {
  const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
  const schemas = discoverySchemas({ ...DEFAULT_DISCOVERY_LIMITS, maxLabelBytes: 1 << 30 });
  const rows: Row[] = [];
  const data: Record<string, number> = {};
  for (const shape of o.shapes) {
    const scale = Math.max(1, Math.floor(shape / o.users));
    const labels = randomBytes(32 * o.users);
    const directory = await Directory.open({ store: new MemoryStore(), suite });
    await directory.importUsers(
      Array.from({ length: o.users }, (_, k) => ({ userId: `u${k * scale}`, identifiers: [registeredIdentifier(k)], label: new Uint8Array(labels.buffer, labels.byteOffset + 32 * k, 32) })),
    );
    const backend = await DirectoryDiscoveryBackend.open(directory);
    // The snapshot, cached as a first sync leaves it.
    const first = await runSessionPairAsync(
      new DiscoveryClientSession({ suite, identifiers: [absentIdentifier(0)], rng: randomBytesRng }),
      new DiscoveryServerSession({ backend, rng: randomBytesRng, now: Date.now() }),
    );
    if (!first.clientResult) throw new Error(`first sync failed: ${first.clientError?.message}`);
    const registered = Math.min(o.users, Math.round(o.contacts * o.registeredShare));
    const step = Math.max(1, Math.floor(o.users / Math.max(1, registered)));
    const identifiers = Array.from({ length: o.contacts }, (_, i) => (i < registered ? registeredIdentifier((i * step) % o.users) : absentIdentifier(i + 1)));
    const bytes = new Map<string, number>();
    const count = (b: Uint8Array): Uint8Array => {
      const t = decodeMessage<{ t: string }>(b, schemas, 1 << 30).t;
      bytes.set(t, (bytes.get(t) ?? 0) + b.length);
      return b;
    };
    const out = await runSessionPairAsync(
      new DiscoveryClientSession({ suite, identifiers, rng: randomBytesRng, cache: first.clientResult.snapshot, chunkItems: o.chunkItems }),
      new DiscoveryServerSession({ backend, rng: randomBytesRng, now: Date.now() }),
      0,
      { toServer: count, toClient: count },
    );
    const r = out.clientResult;
    if (!r) throw new Error(`sync failed: ${out.clientError?.message}`);
    if (r.matches.length !== registered || r.badLabels !== 0) throw new Error(`expected ${registered} matches, got ${r.matches.length} (${r.badLabels} bad labels)`);
    const total = out.bytesClientToServer + out.bytesServerToClient;
    const labelBytes = (bytes.get('dir.labels.get') ?? 0) + (bytes.get('dir.labels') ?? 0);
    const idBytes = r.matches.reduce((n, m) => n + Buffer.byteLength(m.userId, 'utf8'), 0) / r.matches.length;
    const row: Row = {
      'user ids as in a directory of': shape,
      'mean user id bytes (matches)': round(idBytes),
      contacts: o.contacts,
      matches: r.matches.length,
      'bytes/contact': round(total / o.contacts),
      'OPRF exchange + framing /contact': round((total - labelBytes) / o.contacts),
      'label round trip per match': round(labelBytes / r.matches.length),
    };
    for (const t of MESSAGE_TYPES) row[`${t} bytes`] = bytes.get(t) ?? 0;
    rows.push(row);
    data[`${shape}/${o.contacts}/bytesPerContact`] = total / o.contacts;
    data[`${shape}/${o.contacts}/labelBytesPerMatch`] = labelBytes / r.matches.length;
    data[`${shape}/${o.contacts}/oprfBytesPerContact`] = (total - labelBytes) / o.contacts;
    await directory.close();
  }
  return {
    name: 'label-wire',
    title: 'Wire bytes per contact, first sync in the epoch with the snapshot cached (label format 2)',
    smoke: o.smoke,
    parameters: { users: o.users, contacts: o.contacts, shapes: o.shapes, registeredShare: o.registeredShare, chunkItems: o.chunkItems, labelBytes: 32 },
    notes: [
      'Real DiscoveryClientSession and DiscoveryServerSession over a signed Directory in memory (DirectoryDiscoveryBackend: dir.info carries the identity, key statement and announcement), joined in process by runSessionPairAsync: bytes are the message payloads both ways, as `scale` counts them at the server (WebSocket framing apart).',
      `A directory of ${o.users.toLocaleString('en-US')} entries named as in a directory of each shape (entry k is u<k x shape / users>, or u<k> for a shape below the directory's size), so the matched user ids are the ones \`scale\` matches at that size; 32-byte labels; ${o.registeredShare * 100}% of the contacts registered; ${o.chunkItems}-item chunks (syncAddressBook with a worker pool).`,
      'Per match: an 8-byte wire lookup key up; down a 1-byte length, a 12-byte synthetic IV, a 1-byte user id length, the user id and the label (label format 2, spec/discovery.md §1). Format 1 (16-byte keys, a 2-byte bin header, 24-byte nonce, 2-byte length, 16-byte tag) measured 88.97 bytes/contact at 10^6 users in `scale` (2026-12-02).',
    ],
    data,
    sections: [{ title: 'Bytes per contact by message type', rows }],
  };
}

function randomBytesRng(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}
