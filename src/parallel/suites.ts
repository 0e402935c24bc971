/** One suite per (suite, mode, backend) per thread: a worker loads its backend once. */
import { loadGroup, type BackendName } from '../group/select.js';
import { groupIdOf } from '../oprf/suite-group.js';
import { createSuite, type OprfSuite } from '../oprf/suite.js';
import type { SuiteRef } from './wire.js';

const suites = new Map<string, Promise<OprfSuite>>();

export function loadSuite(ref: SuiteRef, backend: BackendName): Promise<OprfSuite> {
  const key = `${ref.id}/${ref.mode}/${backend}`;
  let pending = suites.get(key);
  if (pending === undefined) {
    pending = loadGroup(groupIdOf(ref.id), backend).then((group) => createSuite(ref.id, ref.mode, group));
    suites.set(key, pending);
    pending.catch(() => suites.delete(key)); // unknown suite or backend: not cached
  }
  return pending;
}
