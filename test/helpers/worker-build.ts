/**
 * dist/ (the pool's worker script, the CLI, the wasm copies) is rebuilt before any test
 * runs whenever its sources changed: this file is vitest's globalSetup (vitest.config.ts),
 * and scripts/dist-fresh.mjs compares a content digest of src/, bench/, asm/ and the
 * tsconfigs with the one the last build recorded. A failed build stops the run loudly
 * (tsc's errors on the terminal): testing the previous dist/ would report on stale code.
 * After `npm ci` (whose `prepare` builds and records the digest) nothing is rebuilt.
 */
import { inject } from 'vitest';
import type { TestProject } from 'vitest/node';
import { ensureFreshDist, sourceDigests } from '../../scripts/dist-fresh.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The digest of the TypeScript sources dist/ was checked or built against, before the tests started. */
    distSourceDigest: string;
  }
}

export const WORKER = new URL('../../dist/src/parallel/worker.js', import.meta.url);

export async function setup(project: TestProject): Promise<void> {
  const digest = sourceDigests().typescript;
  const rebuilt = await ensureFreshDist();
  if (rebuilt.length > 0) console.log(`dist/ rebuilt before the tests (${rebuilt.join(', ')} sources changed)`);
  project.provide('distSourceDigest', digest);
}

/**
 * For tests that load dist/: throws unless the globalSetup above checked (and if needed
 * rebuilt) dist/ for this run, i.e. unless the run went through vitest.config.ts.
 */
export function assertDistFresh(): void {
  if (typeof inject('distSourceDigest') !== 'string') {
    throw new Error('dist/ was not checked before this run: run the tests through vitest.config.ts (its globalSetup rebuilds stale dist/)');
  }
}
