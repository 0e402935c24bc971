import { sha256 } from '@noble/hashes/sha2.js';
import { loadGroup } from '../../src/group/index.js';
import { createSuite, Modes, type KeyPair, type OprfSuite } from '../../src/oprf/index.js';
import type { DiscoveryBackend, EpochView } from '../../src/protocol/discovery/backend.js';
import { lookupKeyOf, sealLabel } from '../../src/protocol/discovery/labels.js';
import { bytesKey } from '../../src/protocol/server-set.js';
import { buildEncoding, deriveParameters, type EncodingKind } from '../../src/setenc/index.js';
import { seededRng } from './rng.js';

export interface TestUser {
  userId: string;
  identifiers: string[];
  label: string;
  discoverable?: boolean;
}

const fastGroup = await loadGroup('ristretto255', 'sodium');
export const voprfSuite = (): OprfSuite => createSuite('ristretto255-SHA512', Modes.VOPRF, fastGroup);

/** A directory in a few lines, for protocol tests: the real one is src/directory. */
export function memoryBackend(users: TestUser[], opts: { suite?: OprfSuite; keys?: KeyPair; epoch?: number; encoding?: EncodingKind; seed?: number } = {}) {
  const suite = opts.suite ?? voprfSuite();
  const rng = seededRng(opts.seed ?? 5);
  const keys = opts.keys ?? suite.generateKeyPair(rng);
  const visible = users.filter((u) => u.discoverable !== false);
  const ids = visible.flatMap((u) => u.identifiers.map((id) => ({ id, u })));
  const tags = suite.evaluate(keys.secretKey, ids.map(({ id }) => new TextEncoder().encode(id)));
  const kind = opts.encoding ?? 'fuse';
  const encoding = buildEncoding(deriveParameters({ kind, serverSize: Math.max(1, tags.length), clientSize: 1, falsePositiveRate: 2 ** -29 }), tags);
  const bytes = encoding.serialize();
  const labels = new Map<string, Uint8Array>();
  tags.forEach((tag, i) => labels.set(bytesKey(lookupKeyOf(tag)), sealLabel(tag, { userId: ids[i].u.userId, label: new TextEncoder().encode(ids[i].u.label) }, rng(24))));
  const view: EpochView = {
    epoch: opts.epoch ?? 1,
    suite,
    keys,
    snapshot: { version: 1, digest: sha256(bytes), encoding: kind, count: encoding.count, bytes },
  };
  const backend: DiscoveryBackend = {
    current: () => view,
    epoch: (e) => (e === view.epoch ? view : undefined),
    sealedLabels: (_e, keys) => keys.map((k) => labels.get(bytesKey(k))),
  };
  return { backend, view, suite, keys };
}
