/**
 * Where the harness reads and writes. The compiled files live in dist/bench/, the sources
 * (the C program, the peer's folder) and the results in bench/ of the repository.
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root: dist/bench/ -> ../.. (compiled) or bench/ -> .. (run from source). */
export const repoRoot: string = existsSync(join(here, '..', 'package.json')) ? join(here, '..') : join(here, '..', '..');

/** Source folder of the harness (bench/ in the repository, not dist/bench/). */
export const benchSource = join(repoRoot, 'bench');

/** The compiled harness folder (children are forked from here). */
export const benchCompiled = here;

let smokeDir: string | undefined;

/**
 * Results go to bench/results/ (or $BENCH_RESULTS); smoke runs write to a fresh temp dir,
 * so CI never dirties the work tree.
 */
export function resultsDir(smoke: boolean): string {
  if (process.env.BENCH_RESULTS) return process.env.BENCH_RESULTS;
  if (!smoke) return join(benchSource, 'results');
  smokeDir ??= mkdtempSync(join(tmpdir(), 'contact-psi-bench-smoke-'));
  return smokeDir;
}

/**
 * Prebuilt directories (SQLite files with their key files) reused across scenarios:
 * $BENCH_CACHE, else <tmp>/contact-psi-bench-cache. Smoke runs use their own results dir.
 */
export function cacheDir(smoke: boolean): string {
  const dir = process.env.BENCH_CACHE ?? (smoke ? join(resultsDir(true), 'cache') : join(tmpdir(), 'contact-psi-bench-cache'));
  mkdirSync(dir, { recursive: true });
  return dir;
}
