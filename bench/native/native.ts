/**
 * The native floor: compiles bench/native/ristretto_bench.c against the system libsodium
 * (`cc -O2 … -lsodium`, into a temp dir) and parses what it prints. Where there is no C
 * compiler or no sodium.h (CI), it returns a reason instead, and the scenarios say so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchSource } from '../paths.js';

export interface NativeFigures {
  /** Nanoseconds per operation. */
  readonly xmdNs: number;
  readonly fromHashNs: number;
  readonly scalarmultNs: number;
  /** expand_message_xmd + from_hash + scalarmult in one loop. */
  readonly hashAndMultiplyNs: number;
  readonly sodiumVersion: string;
  readonly compiler: string;
  readonly iterations: number;
}

export type NativeOutcome = { ok: true; figures: NativeFigures } | { ok: false; reason: string };

const INCLUDE_DIRS = ['/usr/include', '/usr/local/include', '/opt/homebrew/include', '/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu'];

function hasSodiumHeader(): boolean {
  const pc = spawnSync('pkg-config', ['--exists', 'libsodium']);
  if (pc.status === 0) return true;
  return INCLUDE_DIRS.some((d) => existsSync(join(d, 'sodium.h')));
}

export function runNativeFloor(iterations: number): NativeOutcome {
  const cc = process.env.CC ?? 'cc';
  const version = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) return { ok: false, reason: `no C compiler (${cc}); native floor skipped` };
  if (!hasSodiumHeader()) return { ok: false, reason: 'sodium.h not found (apt-get install -y libsodium-dev); native floor skipped' };
  const source = join(benchSource, 'native', 'ristretto_bench.c');
  if (!existsSync(source)) return { ok: false, reason: `${source} is missing; native floor skipped` };
  const dir = mkdtempSync(join(tmpdir(), 'contact-psi-native-'));
  try {
    const exe = join(dir, 'ristretto_bench');
    const pc = spawnSync('pkg-config', ['--cflags', '--libs', 'libsodium'], { encoding: 'utf8' });
    const flags = pc.status === 0 ? pc.stdout.trim().split(/\s+/).filter(Boolean) : ['-lsodium'];
    const build = spawnSync(cc, ['-O2', '-o', exe, source, ...flags], { encoding: 'utf8' });
    if (build.status !== 0) return { ok: false, reason: `compiling the native floor failed: ${(build.stderr || build.stdout).trim().split('\n')[0]}` };
    const run = spawnSync(exe, [String(iterations)], { encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0) return { ok: false, reason: `the native floor exited with ${run.status}: ${run.stderr.trim()}` };
    const values = new Map<string, string>();
    for (const line of run.stdout.trim().split('\n')) {
      const [key, value] = line.trim().split(/\s+/, 2);
      if (key && value) values.set(key, value);
    }
    const num = (k: string) => {
      const v = Number(values.get(k));
      if (!Number.isFinite(v)) throw new Error(`native floor printed no ${k}`);
      return v;
    };
    return {
      ok: true,
      figures: {
        xmdNs: num('xmd'),
        fromHashNs: num('from_hash'),
        scalarmultNs: num('scalarmult'),
        hashAndMultiplyNs: num('hash+mult'),
        sodiumVersion: values.get('sodium_version') ?? 'unknown',
        compiler: version.stdout.split('\n')[0].trim(),
        iterations,
      },
    };
  } catch (err) {
    return { ok: false, reason: `native floor failed: ${(err as Error).message}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
