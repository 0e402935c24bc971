/**
 * Runs the real `contact-psi` command (dist/src/cli/main.js) as a whole process, the way an
 * operator or a user runs it: wall time from spawn to exit, peak RSS and CPU of the process
 * (all its threads, read at exit by rusage-preload.js), stdout kept, stderr's tail kept.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchCompiled, repoRoot } from './paths.js';

export const cliMain = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

/** The package's `bin` (what `npx contact-psi` and an installed package run): the bundle of scripts/bundle-cli.mjs. */
export function cliBin(): string {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  return join(repoRoot, pkg.bin['contact-psi']);
}

export interface CliRun {
  wallMs: number;
  code: number | null;
  stdout: string;
  stderrTail: string;
  /** Whole-process peak RSS (MiB) and CPU (ms), worker threads included; NaN if not reported. */
  maxRssMiB: number;
  cpuMs: number;
}

/** `nodeArgs` go to node before the script (e.g. `--cpu-prof`); `entry` is what node runs (another build of the CLI, or `-e 0`). */
export async function runCli(args: readonly string[], onSpawn?: (startedAt: number) => void, nodeArgs: readonly string[] = [], entry: readonly string[] = [cliMain]): Promise<CliRun> {
  const dir = mkdtempSync(join(tmpdir(), 'contact-psi-rusage-'));
  const out = join(dir, 'rusage.json');
  const preload = pathToFileURL(join(benchCompiled, 'rusage-preload.js')).href;
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, '--import', preload, ...entry, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BENCH_RUSAGE_OUT: out },
  });
  onSpawn?.(started);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  const wallMs = performance.now() - started;
  let maxRssMiB = NaN;
  let cpuMs = NaN;
  try {
    const u = JSON.parse(readFileSync(out, 'utf8')) as { maxRssKiB: number; userUs: number; systemUs: number };
    maxRssMiB = u.maxRssKiB / 1024;
    cpuMs = (u.userUs + u.systemUs) / 1000;
  } catch {
    // The process died before its exit handler ran (killed): no usage figures.
  }
  rmSync(dir, { recursive: true, force: true });
  return { wallMs, code, stdout, stderrTail: stderr, maxRssMiB, cpuMs };
}
