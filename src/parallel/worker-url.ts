/**
 * Where the pool's worker script lives. Worker threads cannot run TypeScript, so the worker
 * is always the compiled `dist/src/parallel/worker.js`:
 * - loaded from dist (normal use): the sibling `./worker.js`;
 * - loaded from `src/parallel/*.ts` (vitest, ts runners): `../../dist/src/parallel/worker.js`,
 *   which exists after `npm run build` (`npm ci` / `npm install` run it via `prepare`).
 * Only file: URLs are checked for existence; a data: URL (tests) or a bundler's URL is used as given.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ContactPsiError } from '../errors.js';

export function resolveWorkerUrl(moduleUrl: string = import.meta.url): URL {
  const fromSource = new URL(moduleUrl).pathname.endsWith('.ts');
  const url = fromSource ? new URL('../../dist/src/parallel/worker.js', moduleUrl) : new URL('./worker.js', moduleUrl);
  if (url.protocol === 'file:' && !existsSync(fileURLToPath(url))) {
    throw new ContactPsiError('pool_unavailable', `worker script ${fileURLToPath(url)} is missing: run \`npm run build\` first`);
  }
  return url;
}
