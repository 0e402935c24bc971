/**
 * `bench -- startup`: whole-process `contact-psi sync` start-up, spawn → first byte on the
 * wire (issue 13 §1: at most 150 ms), the snapshot of an N-user directory (default 1M, the
 * cached SQLite fixture) already in the client's cache, 1,024 contacts (25% registered).
 *
 * In the same run, interleaved (run r of every variant before run r+1 of any; each round
 * starts at another variant, so the one right after a sync is not always the same), so the load
 * of this shared machine weighs on each alike:
 * - `node -e 0`: Node's own start-up here, now: the floor no CLI goes under;
 * - the eager CLI: src/cli/main.ts as it was before lazy loading (EAGER_MAIN_COMMIT, every
 *   command and its dependency tree imported up front), compiled from git onto today's
 *   dist/ (skipped when git or the commit is missing);
 * - the unbundled CLI (dist/src/cli/main.js, tsc's output, commands imported lazily);
 * - the bin before its early entry: the bundle with main.ts as its entry (commander and ws
 *   loaded before the first byte), built by scripts/bundle-cli.mjs into dist/bench/;
 * - the bin (package.json `bin`: the esbuild bundle of scripts/bundle-cli.mjs), whose entry
 *   (src/cli/sync-entry.ts) writes the WebSocket upgrade with node:net before anything else
 *   loads.
 * First byte = the first TCP data (the WebSocket upgrade request) at a counting proxy in
 * front of the server. CPU = the whole process's, all threads, the whole run (the sync
 * after the first byte included). One more run of the bin under --cpu-prof is cut at the
 * first byte (both clocks are the monotonic one): what runs before it, by package.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SourceMap } from 'node:module';
import { pathToFileURL } from 'node:url';
import { syntheticBook } from './address-book.js';
import { ensureFixture, serveInChild } from './child-process.js';
import { cliBin, cliMain, runCli, type CliRun } from './cli-run.js';
import { fixturePath } from './directory-fixture.js';
import { firstByteProxy } from './first-byte-proxy.js';
import { repoRoot } from './paths.js';
import type { Report, Row } from './report.js';
import { contactsCsv } from './scale.js';
import { median, round } from './timing.js';

/** The last commit whose src/cli/main.ts imported every command eagerly. */
export const EAGER_MAIN_COMMIT = '3acbacb';

export interface StartupOptions {
  users: number;
  contacts: number;
  runs: number;
  smoke: boolean;
}

interface Variant {
  name: string;
  /** The key of its figures in `data`. */
  key: string;
  /** What node runs: a script, or `-e 0`. */
  entry: string[];
  /** No first byte: the process only starts and exits. */
  bare?: boolean;
}


/**
 * main.ts of EAGER_MAIN_COMMIT, types stripped, its relative imports pointed at today's
 * dist/src/cli/ (the same command modules, imported up front as they were).
 */
async function eagerMain(work: string): Promise<string | undefined> {
  let source: string;
  try {
    source = execFileSync('git', ['-C', repoRoot, 'show', `${EAGER_MAIN_COMMIT}:src/cli/main.ts`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
  const { transformSync } = await import('esbuild');
  const base = pathToFileURL(cliMain);
  // Relative imports to today's dist/src/cli/, packages as this harness resolves them (the same node_modules).
  const code = transformSync(source, { loader: 'ts', format: 'esm', target: 'node20' }).code.replace(/from "([^"]+)"/g, (_, spec: string) =>
    `from ${JSON.stringify(spec.startsWith('.') ? new URL(spec, base).href : spec.startsWith('node:') ? spec : import.meta.resolve(spec))}`,
  );
  const path = join(work, 'eager-main.mjs');
  writeFileSync(path, code);
  return path;
}

/**
 * The least any Node client can do before its first byte: an ES module (as the bin is)
 * that takes node:net, connects to --server and writes an upgrade request; it leaves once
 * answered. What the bin adds over it is the CLI's own part.
 */
function floorScript(work: string): string {
  const path = join(work, 'floor.mjs');
  writeFileSync(
    path,
    [
      "const net = process.getBuiltinModule('node:net');",
      "const u = new URL(process.argv[process.argv.indexOf('--server') + 1]);",
      'const s = net.connect({ host: u.hostname, port: Number(u.port) }, () =>',
      "  s.write(`GET / HTTP/1.1\\r\\nHost: ${u.host}\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\nSec-WebSocket-Protocol: contact-psi\\r\\n\\r\\n`),",
      ');',
      "s.once('data', () => s.destroy());",
      '',
    ].join('\n'),
  );
  return path;
}

/** scripts/bundle-cli.mjs's bundle with main.ts as the entry (the bin before sync-entry.ts), in dist/bench/. */
async function binWithoutEarlyEntry(): Promise<string | undefined> {
  try {
    const script = pathToFileURL(join(repoRoot, 'scripts', 'bundle-cli.mjs')).href;
    const { bundleCliWithoutEarlyEntry } = (await import(script)) as { bundleCliWithoutEarlyEntry: (outDir: string) => Promise<string> };
    return await bundleCliWithoutEarlyEntry(join(repoRoot, 'dist', 'bench', 'bin-before-early-entry'));
  } catch {
    return undefined;
  }
}

type Profile = { nodes: { id: number; callFrame: { url: string; functionName: string; lineNumber: number; columnNumber: number } }[]; samples: number[]; timeDeltas: number[]; startTime: number };

const BUNDLE_DIR = join(repoRoot, 'dist', 'src', 'cli', 'bundle');
const bundleMaps = new Map<string, SourceMap | null>();

/**
 * The source file behind a profiled function: for the bin's chunks, from their source maps
 * (scripts/bundle-cli.mjs keeps them in dist/cli-bundle-maps/), so a profile of the bundle
 * is told apart by package as one of the unbundled CLI is.
 */
function sourceUrl(frame: Profile['nodes'][number]['callFrame']): string {
  const m = /\/dist\/src\/cli\/bundle\/([^/]+\.js)$/.exec(frame.url);
  if (!m) return frame.url;
  let map = bundleMaps.get(m[1]);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(join(repoRoot, 'dist', 'cli-bundle-maps', `${m[1]}.map`), 'utf8')));
    } catch {
      map = null;
    }
    bundleMaps.set(m[1], map);
  }
  const entry = map?.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string } | undefined;
  return entry?.originalSource ? new URL(entry.originalSource, pathToFileURL(`${BUNDLE_DIR}/`)).href : frame.url;
}

/** Self time by package of the samples taken before `cutUs` (monotonic µs). */
function profileBefore(profile: Profile, cutUs: number): { rows: Row[]; sampledMs: number; top: string } {
  const frameOf = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const bucketOf = (url: string) => {
    if (url === '') return '(V8: program, GC, WASM compile, parse)';
    if (url.startsWith('node:')) return 'node: internals (module loader, fs, net)';
    const m = /\/(node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(url) ?? /\/dist\/(src\/[^/]+(?:\/bundle)?)\//.exec(url);
    return m ? m[1] : url.replace(/^file:\/\/.*\//, '');
  };
  const buckets = new Map<string, number>();
  const fns = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t > cutUs) return;
    total += dt;
    const frame = frameOf.get(id);
    const b = bucketOf(frame ? sourceUrl(frame) : '');
    buckets.set(b, (buckets.get(b) ?? 0) + dt);
    const fn = `${frame?.functionName || '(anonymous)'} (${(frame ? sourceUrl(frame) : '').replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/') || 'V8'})`;
    fns.set(fn, (fns.get(fn) ?? 0) + dt);
  });
  const rows = [...buckets]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([where, us]) => ({ where, 'self ms': round(us / 1000), '%': round((100 * us) / Math.max(1, total), 3) }));
  const top = [...fns]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([fn, us]) => `${fn} ${round(us / 1000)} ms`)
    .join('; ');
  return { rows, sampledMs: total / 1000, top };
}

/** Steps of the start-up by the functions that do them (inclusive time: a sample counts for every step on its stack). */
const STEPS: [string, RegExp][] = [
  ['module loading (resolve, read, compile, link)', /^(loadAndTranslate|getModuleJobForImport|compileForInternalLoader|compileForPublicLoader)$/],
  ['address book: read and parse (libphonenumber)', /^readBook$/],
  ['WASM group: load libsodium, decode + compile the inlined modules', /^loadGroup$/],
  ['  of which: base64 decode of the inlined WASM', /^decodeWasmBase64$/],
  ['snapshot cache: read and check', /^loadSnapshot$/],
  ['pins: read and verify the signed statements', /^loadPins$/],
  ['OPRF outputs cache: read, key every identifier', /^loadOutputs$/],
  ['garbage collection', /^\(garbage collector\)$/],
];

/** Inclusive time of each step in the samples taken before `cutUs`. */
function stepsBefore(profile: Profile, cutUs: number): Row[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes as (Profile['nodes'][number] & { children?: number[] })[]) for (const c of n.children ?? []) parent.set(c, n.id);
  const us = STEPS.map(() => 0);
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t > cutUs) return;
    const names = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) names.add(byId.get(x)?.callFrame.functionName ?? '');
    STEPS.forEach(([, re], k) => {
      if ([...names].some((n) => re.test(n))) us[k] += dt;
    });
  });
  return STEPS.map(([step], k) => ({ step, 'ms (inclusive)': round(us[k] / 1000) }));
}

export async function startupScenario(o: StartupOptions): Promise<Report> {
  const work = mkdtempSync(join(tmpdir(), 'contact-psi-startup-'));
  await ensureFixture(o.users, o.smoke);
  // The file in this run's cache folder ($BENCH_CACHE: a private copy keeps a shared fixture untouched).
  const server = await serveInChild(fixturePath(o.users, o.smoke));
  const proxy = await firstByteProxy(server.url);
  const data: Record<string, number | string> = {};
  const notes: string[] = [];
  try {
    const { book } = syntheticBook(o.contacts, o.users, 0.25, 21);
    const csvPath = join(work, 'contacts.csv');
    contactsCsv(csvPath, book);
    const cache = mkdtempSync(join(work, 'cli-cache-'));
    const args = ['sync', '--server', proxy.url, '--contacts', csvPath, '--cache', cache, '--json'];
    const bin = cliBin();
    const variants: Variant[] = [
      { name: '`node -e 0` (Node alone)', key: 'node', entry: ['-e', '0'], bare: true },
      { name: 'floor: Node connecting and writing an upgrade, nothing else (node:net)', key: 'floor', entry: [floorScript(work)] },
    ];
    const eager = await eagerMain(work);
    if (eager) variants.push({ name: `eager CLI (main.ts of ${EAGER_MAIN_COMMIT}, unbundled)`, key: 'eager', entry: [eager] });
    else notes.push(`The eager CLI of ${EAGER_MAIN_COMMIT} was not measured: git or the commit is missing here.`);
    variants.push({ name: 'lazy CLI, unbundled (dist/src/cli/main.js)', key: 'unbundled', entry: [cliMain] });
    const before = await binWithoutEarlyEntry();
    if (before) variants.push({ name: 'bin before the early entry (bundle, main.ts its entry: commander, ws first)', key: 'binBefore', entry: [before] });
    else notes.push('The bin before the early entry was not measured: scripts/bundle-cli.mjs or esbuild is missing here.');
    if (bin !== cliMain) variants.push({ name: `bin, bundled, early entry (${bin.slice(repoRoot.length + 1)})`, key: 'bin', entry: [bin] });
    notes.push(
      "Before the bin's first byte run only its entry (dist/src/cli/bundle/main.js, ~15 kB, one file: argv checked, the token resolved, node:net connected, the upgrade written) and Node's own start-up; a V8 code cache would save the compile of that one file, well under a millisecond, and Node 20 has no code cache for ES modules (module.enableCompileCache is Node 22), so none is kept. A start-up snapshot (--snapshot-blob) needs a flag the bin's #! line cannot pass portably.",
    );

    // The first sync downloads the snapshot: the runs measured all find it cached.
    const fill = await runCli(args, undefined, [], [bin]);
    if (fill.code !== 0) throw new Error(`contact-psi sync exited ${fill.code}: ${fill.stderrTail.slice(-1000)}`);
    const cacheBytes = readdirSync(cache, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .reduce((n, e) => n + readFileSync(join(e.parentPath, e.name)).length, 0);

    const figures = new Map(variants.map((v) => [v.name, { firstByte: [] as number[], firstMessage: [] as number[], exit: [] as number[], cpu: [] as number[] }]));
    const load0 = loadavg();
    for (let r = 0; r < o.runs; r++) {
      // Each round starts at another variant: the runs right after a sync (the server still
      // busy with it) fall on each variant alike.
      for (const v of [...variants.slice(r % variants.length), ...variants.slice(0, r % variants.length)]) {
        proxy.reset();
        let spawnedAt = 0;
        const run: CliRun = await runCli(v.bare ? [] : args, (t) => (spawnedAt = t), [], v.entry);
        if (run.code !== 0) throw new Error(`${v.name} exited ${run.code}: ${run.stderrTail.slice(-1000)}`);
        const f = figures.get(v.name)!;
        const fb = proxy.firstByteAt();
        if (!v.bare && fb === undefined) throw new Error(`${v.name}: no byte reached the proxy`);
        if (fb !== undefined) f.firstByte.push(fb - spawnedAt);
        const fm = proxy.firstMessageAt();
        if (fm !== undefined) f.firstMessage.push(fm - spawnedAt);
        f.exit.push(run.wallMs);
        f.cpu.push(run.cpuMs);
      }
    }
    const load1 = loadavg();

    const nodeMs = median(figures.get(variants[0].name)!.exit);
    const floorMs = median(figures.get(variants[1].name)!.firstByte);
    const rows: Row[] = variants.map((v) => {
      const f = figures.get(v.name)!;
      const fb = v.bare ? NaN : median(f.firstByte);
      return {
        variant: v.name,
        runs: f.exit.length,
        'spawn → first byte, ms (median)': v.bare ? null : round(fb),
        'spawn → first byte, ms (min)': v.bare ? null : round(Math.min(...f.firstByte)),
        'first byte − node -e 0, ms': v.bare ? null : round(fb - nodeMs),
        'first byte − floor, ms': v.bare || v.key === 'floor' ? null : round(fb - floorMs),
        'spawn → first message after the upgrade, ms (median)': f.firstMessage.length === 0 ? null : round(median(f.firstMessage)),
        'spawn → exit, ms (median)': round(median(f.exit)),
        'CPU ms, whole run (median)': round(median(f.cpu)),
      };
    });
    for (const v of variants) {
      const f = figures.get(v.name)!;
      const key = v.key;
      if (!v.bare) data[`startup/${key}/firstByteMs`] = median(f.firstByte);
      if (f.firstMessage.length > 0) data[`startup/${key}/firstMessageMs`] = median(f.firstMessage);
      data[`startup/${key}/exitMs`] = median(f.exit);
      data[`startup/${key}/cpuMs`] = median(f.cpu);
    }
    data['startup/nodeMs'] = nodeMs;
    data['startup/floorMs'] = floorMs;
    data['startup/firstByteMs'] = Number(data['startup/bin/firstByteMs'] ?? data['startup/unbundled/firstByteMs']);
    data['startup/users'] = o.users;
    data['startup/contacts'] = o.contacts;
    data['startup/cacheBytes'] = cacheBytes;

    // One run of the bin under --cpu-prof, cut at its first byte.
    const sections: Report['sections'][number][] = [
      {
        title: `Spawn → first byte of \`contact-psi sync\`, ${o.contacts.toLocaleString('en-US')} contacts, the snapshot of a ${o.users.toLocaleString('en-US')}-user directory cached (${round(cacheBytes / 2 ** 20)} MiB of cache files)`,
        rows,
        notes: [
          `Interleaved runs, each round starting at the next variant; load average ${load0.map((l) => round(l)).join(' / ')} before the runs, ${load1.map((l) => round(l)).join(' / ')} after (1/5/15 min) on ${cpus().length} cores shared with other work: wall times stretch with the load, CPU much less.`,
          'first byte − node -e 0 = the first byte against the exit of a Node that does nothing (its exit includes its teardown); first byte − floor = what the CLI adds over a Node script that only connects and writes an upgrade: the part this project controls.',
          ...(data['startup/binBefore/firstByteMs'] !== undefined && data['startup/bin/firstByteMs'] !== undefined
            ? [
                `The early entry (src/cli/sync-entry.ts: the upgrade written with node:net before commander, ws, http, tls load): first byte ${round(Number(data['startup/binBefore/firstByteMs']) - Number(data['startup/bin/firstByteMs']))} ms sooner than the same bundle with main.ts as its entry (medians, same runs).`,
              ]
            : []),
          'first message = the client\'s first bytes after the server\'s 101 (its first protocol message). A CLI that connects before loading the client (the bin and the unbundled CLI since early-connect.ts) sends its upgrade first and this when the address book, the cache, the pins and the WASM group are ready; the eager CLI of the old path did all of that before connecting, so there the two are one round trip apart.',
        ],
      },
    ];
    const profDir = mkdtempSync(join(work, 'prof-'));
    proxy.reset();
    await runCli(args, undefined, ['--cpu-prof', `--cpu-prof-dir=${profDir}`], [bin]);
    const cut = proxy.firstByteMonotonicUs();
    const cutMessage = proxy.firstMessageMonotonicUs();
    const profFile = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (profFile && cut !== undefined) {
      // BENCH_STARTUP_PROFILE=<file> keeps the profile (and the cuts, monotonic µs) for a closer look.
      if (process.env.BENCH_STARTUP_PROFILE) copyFileSync(join(profDir, profFile), process.env.BENCH_STARTUP_PROFILE);
      if (process.env.BENCH_STARTUP_PROFILE) writeFileSync(`${process.env.BENCH_STARTUP_PROFILE}.cut`, `${cut} ${cutMessage ?? ''}`);
      const profile = JSON.parse(readFileSync(join(profDir, profFile), 'utf8')) as Profile;
      for (const [what, at] of [
        ['first byte', cut],
        ['first message after the upgrade', cutMessage],
      ] as const) {
        if (at === undefined) continue;
        const p = profileBefore(profile, at);
        sections.push({
          title: `Before the ${what}: the bin's main thread, self time by package (one run under --cpu-prof)`,
          rows: p.rows,
          notes: [`${round(p.sampledMs)} ms sampled from the profile's start to the ${what} (the profiler slows the run). Top functions: ${p.top}.`],
        });
        if (at === cutMessage) {
          sections.push({
            title: `Before the ${what}: the bin's main thread by step (the same run)`,
            rows: stepsBefore(profile, at),
            notes: ['Inclusive: a step\'s callees count for it (module loading inside a step counts twice). After the first byte these run while the upgrade travels; before the first message they are all done.'],
          });
        }
      }
    }
    return {
      name: 'startup',
      title: 'Whole-process `contact-psi sync` start-up to the first byte (issue 13 §1: at most 150 ms)',
      smoke: o.smoke,
      parameters: { users: o.users, contacts: o.contacts, runs: o.runs, eagerMainCommit: EAGER_MAIN_COMMIT },
      sections,
      notes,
      data,
    };
  } finally {
    await proxy.close();
    await server.child.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
