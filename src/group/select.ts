/**
 * Picks a backend for a group. 'auto' takes the fastest one that loads here: libsodium
 * (WASM) for ristretto255, else the noble reference (browsers without WebAssembly, React
 * Native without a WASM runtime). The backends are byte-identical, so the choice changes
 * speed only, never a result.
 */
import { ContactPsiError } from '../errors.js';
import { nobleP256, nobleRistretto255 } from './noble.js';
import { loadSodiumRistretto255 } from './sodium.js';
import { warnSlowPath } from './slow-path.js';
import type { Group, GroupId } from './types.js';

export const BackendNames = ['auto', 'noble', 'sodium'] as const;
export type BackendName = (typeof BackendNames)[number];

const nobleGroups: Record<GroupId, Group> = { ristretto255: nobleRistretto255, P256: nobleP256 };

/** Loaded instances, one per (group, backend) request; a failed load is not cached. */
const cache = new Map<string, Promise<Group>>();

export function loadGroup(id: GroupId, backend: BackendName = 'auto'): Promise<Group> {
  const key = `${id}/${backend}`;
  let pending = cache.get(key);
  if (pending === undefined) {
    pending = load(id, backend);
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

async function load(id: GroupId, backend: BackendName): Promise<Group> {
  if (!Object.hasOwn(nobleGroups, id)) throw new ContactPsiError('unknown_group', `unknown group ${String(id)}`);
  if (!BackendNames.includes(backend)) throw new ContactPsiError('unknown_backend', `unknown backend ${String(backend)}`);
  if (backend === 'noble') return nobleGroups[id];
  if (id !== 'ristretto255') {
    // libsodium has no P-256; only an explicit request is an error.
    if (backend === 'sodium') throw new ContactPsiError('backend_unavailable', `the sodium backend has no ${id} group`);
    return nobleGroups[id];
  }
  if (backend === 'sodium') return loadSodiumRistretto255(); // rejects with backend_unavailable
  try {
    return await loadSodiumRistretto255();
  } catch {
    warnSlowPath('sodium_unavailable', 'libsodium (WebAssembly) could not be loaded; ristretto255 runs on the pure-JS noble backend (several times slower)');
    return nobleGroups[id];
  }
}
