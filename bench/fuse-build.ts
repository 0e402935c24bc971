/**
 * `npm run bench -- fuse-build`: the fuse filter's construction (what a snapshot build and
 * the fleet leader's re-encode on every directory change spend their CPU on), the lean
 * builder of src/setenc/fuse-build.ts against the construction it replaced
 * (src/setenc/fuse-reference.ts), in the same run.
 *
 * Input as the snapshot build gives it: packed 16-byte tags (registry.ts reads 16-byte
 * prefixes), f = 29 (snapshotParams at 2^-29 per lookup).
 *
 * - Time: one child per size builds with both, interleaved, best of `reps` each; ns per key.
 *   Both outputs are compared byte for byte.
 * - Memory: one fresh child per (builder, size) builds once; the peak extra RSS is the
 *   child's maxRSS after the build minus its RSS before it (tags already in memory, after a
 *   GC), divided by the number of keys. The build holds its result (about f x 1.075 / 8
 *   bytes per key, serialized copy included: 2x that), so the figure includes it.
 */
import { fork } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildEncoding } from '../src/setenc/index.js';
import { buildFuseReference } from '../src/setenc/fuse-reference.js';
import type { Report, Row } from './report.js';
import { round } from './timing.js';

const TAG_BYTES = 16;
const F = 29;
const CHILD_FLAG = '--fuse-build-child';

type Builder = 'reference' | 'lean';

interface TimeResult {
  kind: 'time';
  n: number;
  referenceNs: number;
  leanNs: number;
  referenceCpuNs: number;
  leanCpuNs: number;
  identical: boolean;
  seedAttempts: number;
}

interface MemoryResult {
  kind: 'memory';
  n: number;
  builder: Builder;
  ms: number;
  rssBeforeMiB: number;
  peakExtraBytes: number;
  peakIsBuild: boolean;
  heapUsedDelta: number;
  arrayBuffersDelta: number;
}

function tags(n: number): { packed: Uint8Array; tagLength: number } {
  const packed = new Uint8Array(n * TAG_BYTES);
  for (let o = 0; o < packed.length; o += 1 << 16) randomFillSync(packed, o, Math.min(1 << 16, packed.length - o));
  return { packed, tagLength: TAG_BYTES };
}

function build(builder: Builder, input: { packed: Uint8Array; tagLength: number }): Uint8Array {
  return builder === 'lean' ? buildEncoding({ kind: 'fuse', fingerprintBits: F }, input).serialize() : buildFuseReference({ kind: 'fuse', fingerprintBits: F }, input).bytes;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function childTime(n: number, reps: number): TimeResult {
  const input = tags(n);
  const warm = tags(Math.min(n, 20_000));
  build('reference', warm);
  build('lean', warm);
  let referenceNs = Infinity;
  let leanNs = Infinity;
  let referenceCpuNs = Infinity;
  let leanCpuNs = Infinity;
  let identical = true;
  for (let r = 0; r < reps; r++) {
    for (const b of (r % 2 === 0 ? ['reference', 'lean'] : ['lean', 'reference']) as Builder[]) {
      gc();
      const cpu = process.cpuUsage();
      const t = process.hrtime.bigint();
      const bytes = build(b, input);
      const ns = Number(process.hrtime.bigint() - t) / n;
      const used = process.cpuUsage(cpu);
      const cpuNs = ((used.user + used.system) * 1000) / n;
      if (b === 'lean') {
        leanNs = Math.min(leanNs, ns);
        leanCpuNs = Math.min(leanCpuNs, cpuNs);
      } else {
        referenceNs = Math.min(referenceNs, ns);
        referenceCpuNs = Math.min(referenceCpuNs, cpuNs);
      }
      if (r === 0 && b === 'lean') identical &&= Buffer.from(bytes).equals(Buffer.from(build('reference', input)));
    }
  }
  return { kind: 'time', n, referenceNs, leanNs, referenceCpuNs, leanCpuNs, identical, seedAttempts: buildFuseReference({ kind: 'fuse', fingerprintBits: F }, input).attempts };
}

function childMemory(n: number, builder: Builder): MemoryResult {
  const input = tags(n);
  build(builder, tags(2000)); // load and compile the code paths before measuring
  gc();
  gc();
  const before = process.memoryUsage();
  const maxBefore = process.resourceUsage().maxRSS * 1024;
  const t = performance.now();
  const bytes = build(builder, input);
  const ms = performance.now() - t; // wall
  const maxAfter = process.resourceUsage().maxRSS * 1024;
  const after = process.memoryUsage();
  if (bytes.length === 0 && n > 0) throw new Error('empty build');
  return {
    kind: 'memory',
    n,
    builder,
    ms,
    rssBeforeMiB: before.rss / 2 ** 20,
    // maxRSS is monotonic: only a build that set a new peak measured its own (peakIsBuild).
    peakExtraBytes: maxAfter - before.rss,
    peakIsBuild: maxAfter > maxBefore,
    heapUsedDelta: after.heapUsed - before.heapUsed,
    arrayBuffersDelta: after.arrayBuffers - before.arrayBuffers,
  };
}

function runChild<T>(args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, ...args], { execArgv: ['--expose-gc', '--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: T | undefined;
    child.on('message', (m) => (result = m as T));
    child.on('error', reject);
    child.on('exit', (code) => (result !== undefined ? resolve(result) : reject(new Error(`fuse-build child exited with ${code}`))));
  });
}

export interface FuseBuildOptions {
  readonly timeSizes: readonly number[];
  readonly memorySizes: readonly number[];
  readonly reps: number;
  readonly smoke: boolean;
}

export async function fuseBuildScenario(o: FuseBuildOptions): Promise<Report> {
  const timeRows: Row[] = [];
  const memRows: Row[] = [];
  const data: Record<string, number | boolean> = {};
  for (const n of o.timeSizes) {
    const r = await runChild<TimeResult>(['time', String(n), String(o.reps)]);
    timeRows.push({
      keys: n,
      'old ns/key (CPU)': round(r.referenceCpuNs),
      'new ns/key (CPU)': round(r.leanCpuNs),
      'speed-up (CPU)': `${round(r.referenceCpuNs / r.leanCpuNs)}x`,
      'old ns/key (wall)': round(r.referenceNs),
      'new ns/key (wall)': round(r.leanNs),
      'same bytes': r.identical,
      'seeds tried': r.seedAttempts,
    });
    data[`${n}/referenceNsPerKey`] = r.referenceNs;
    data[`${n}/leanNsPerKey`] = r.leanNs;
    data[`${n}/referenceCpuNsPerKey`] = r.referenceCpuNs;
    data[`${n}/leanCpuNsPerKey`] = r.leanCpuNs;
    data[`${n}/identical`] = r.identical;
    console.log(JSON.stringify(timeRows.at(-1)));
  }
  for (const n of o.memorySizes) {
    const row: Row = { keys: n };
    for (const builder of ['reference', 'lean'] as Builder[]) {
      const r = await runChild<MemoryResult>(['memory', String(n), builder]);
      const label = builder === 'lean' ? 'new' : 'old';
      row[`${label} build s`] = round(r.ms / 1000);
      row[`${label} peak extra RSS B/key`] = r.peakIsBuild ? round(r.peakExtraBytes / n) : `<= ${round(r.peakExtraBytes / n)}`;
      data[`${n}/${builder}PeakExtraBytesPerKey`] = r.peakExtraBytes / n;
      data[`${n}/${builder}Ms`] = r.ms;
    }
    memRows.push(row);
    console.log(JSON.stringify(row));
  }
  return {
    name: 'fuse-build',
    title: 'Fuse filter construction: the lean builder vs the one it replaced (same run)',
    smoke: o.smoke,
    parameters: { fingerprintBits: F, tagBytes: TAG_BYTES, timeSizes: o.timeSizes, memorySizes: o.memorySizes, reps: o.reps },
    notes: [
      'Input as a snapshot build gives it: packed 16-byte tags, f = 29 (2^-29 per lookup). "old" is src/setenc/fuse-reference.ts, the construction before fuse-build.ts; "new" is buildEncoding (src/setenc/fuse-build.ts). Both produce the same bytes (checked in the run, column "same bytes").',
      `Time: one child per size, the two builders interleaved, best of ${o.reps} each, ns per key of process CPU time (user + system: the build is single-threaded, so this is its time on a core, less distorted than wall time on a shared machine) and of wall time. The machine is shared: read the ratio.`,
      'Memory: a fresh child per builder and size (--expose-gc); peak extra RSS = maxRSS after the build - RSS before it (tags loaded, GC run), per key. It includes the output the build returns (the body and its serialized copy: 2 x 29 x 1.075 / 8 = 7.8 bytes per key), not the 16-byte tags.',
    ],
    data,
    sections: [
      { title: 'Construction time (ns per key)', rows: timeRows },
      { title: 'Construction peak memory (bytes per key beyond the tags)', rows: memRows },
    ],
  };
}

async function childMain(args: string[]): Promise<void> {
  const [mode, n, extra] = args;
  const result = mode === 'time' ? childTime(Number(n), Number(extra)) : childMemory(Number(n), extra as Builder);
  process.send!(result);
  process.disconnect();
}

if (process.argv[2] === CHILD_FLAG && import.meta.url === pathToFileURL(process.argv[1]).href) {
  childMain(process.argv.slice(3)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
