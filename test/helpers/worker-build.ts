/** The pool's workers load dist/: build it once for a checkout that never was (CI's `npm ci` builds through `prepare`). */
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const WORKER = new URL('../../dist/src/parallel/worker.js', import.meta.url);

/** True when the worker script exists (after building it if needed). */
export function ensureWorkerBuilt(): boolean {
  if (!existsSync(WORKER)) {
    try {
      execSync('npm run build', { stdio: 'inherit' });
    } catch {
      // tsc exits non-zero on a type error elsewhere but still emits; the check below decides.
    }
  }
  return existsSync(WORKER);
}
