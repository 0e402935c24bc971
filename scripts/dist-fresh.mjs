// Keeps dist/ (the compiled worker pool, the CLI and its bundle, the wasm copies) in step with the sources,
// so tests that load dist/ never test stale code (issue 9 §6).
//
// The build records a digest of what it compiled (dist/.source-digest.json): one SHA-256
// over the TypeScript sources and configs (src, bench, tsconfig*.json, scripts/bundle-cli.mjs) and one over the
// AssemblyScript sources (asm). Content, not mtimes: a `git checkout` that touches files
// without changing them costs nothing, and an edit is always seen.
//
//   node scripts/dist-fresh.mjs --record   after a successful build (the `build` script)
//   node scripts/dist-fresh.mjs --ensure   rebuild what is stale; exit 1 if a build fails
//
// `ensureFreshDist()` is what the vitest globalSetup calls (test/helpers/worker-build.ts).
// A failed build throws with tsc's output on the terminal: never swallowed, since a test
// run against the previous dist/ would report on code that is not the code under test.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const digestFile = join(root, 'dist', '.source-digest.json');
const lockDir = join(root, 'dist', '.build-lock');

/** Files under `dir` (relative to the root) whose names end with one of `exts`, sorted. */
function filesUnder(dir, exts) {
  const out = [];
  const walk = (abs) => {
    if (!existsSync(abs)) return;
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const path = join(abs, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(path);
      } else if (exts.some((ext) => entry.name.endsWith(ext))) {
        out.push(relative(root, path));
      }
    }
  };
  walk(join(root, dir));
  return out.sort();
}

function digest(paths) {
  const hash = createHash('sha256');
  for (const path of paths) {
    hash.update(path).update('\0').update(readFileSync(join(root, path))).update('\0');
  }
  return hash.digest('hex');
}

/** The digests the current sources would record. */
export function sourceDigests() {
  const ts = [...filesUnder('src', ['.ts']), ...filesUnder('bench', ['.ts']), 'tsconfig.json', 'tsconfig.build.json', 'scripts/bundle-cli.mjs'];
  return { typescript: digest(ts), wasm: digest(filesUnder('asm', ['.ts', '.json'])) };
}

function recordedDigests() {
  try {
    return JSON.parse(readFileSync(digestFile, 'utf8'));
  } catch {
    return {};
  }
}

/** What is stale: a subset of ['typescript', 'wasm']. */
export function staleParts() {
  const now = sourceDigests();
  const recorded = recordedDigests();
  const stale = [];
  const worker = join(root, 'dist', 'src', 'parallel', 'worker.js');
  // The CLI's bundle (scripts/bundle-cli.mjs, the package's bin) is built from tsc's output.
  const cliBundle = join(root, 'dist', 'src', 'cli', 'bundle', 'main.js');
  if (now.typescript !== recorded.typescript || !existsSync(worker) || !existsSync(cliBundle)) stale.push('typescript');
  const wasm = ['ristretto255.wasm', 'ristretto255-x4.wasm'];
  const wasmMissing = wasm.some(
    (f) =>
      !existsSync(join(root, 'dist', 'src', 'group', 'wasm', f)) ||
      !existsSync(join(root, 'src', 'group', 'wasm', f)) ||
      !existsSync(join(root, 'src', 'group', 'wasm', f.replace(/\.wasm$/, '.wasm-bytes.ts'))), // scripts/wasm-inline.mjs
  );
  if (now.wasm !== recorded.wasm || wasmMissing) stale.push('wasm');
  return stale;
}

/** Records `now` (computed before the build started, so an edit made during it is seen next time). */
export function recordDigests(parts = ['typescript', 'wasm'], now = sourceDigests()) {
  const next = { ...recordedDigests() };
  for (const part of parts) next[part] = now[part];
  mkdirSync(dirname(digestFile), { recursive: true });
  writeFileSync(digestFile, `${JSON.stringify(next, null, 2)}\n`);
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  return result.status ?? result.signal;
}

const buildFailed = (what, status) =>
  new Error(`dist/ build failed: ${what} exited with ${status}; ` +
    'tests that load dist/ (worker pool, CLI) would run stale code, so the run stops here');

/**
 * tsc exits 2 when it found type errors but emitted every file (noEmitOnError is off): dist/
 * then matches the sources, so it is not stale, and the errors are on the terminal. With
 * CONTACT_PSI_STRICT_BUILD=1 (set by `npm test`, scripts/ci-test.mjs) they fail the run as
 * well; a plain `npx vitest run` goes on, so one file mid-edit elsewhere does not stop
 * everyone's tests. Any other non-zero status (nothing emitted, tsc missing) always fails.
 */
function runTsc() {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  // Incremental (its state in dist/, removed with it): after an edit, only what changed is
  // checked and emitted again, which keeps a rebuild before the tests short.
  const status = run(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--incremental', '--tsBuildInfoFile', join(root, 'dist', '.tsbuildinfo')]);
  if (status === 0) return;
  if (status === 2 && process.env.CONTACT_PSI_STRICT_BUILD !== '1') {
    console.error('\n*** dist/ rebuilt from the current sources, but tsc reported type errors (above) ***\n');
    return;
  }
  throw buildFailed('tsc -p tsconfig.build.json', status);
}

/**
 * The CLI's bundle (the bin) from tsc's output. esbuild refuses a graph Node would refuse
 * too (an import of a missing export): the same rule as tsc's type errors, so one file
 * mid-edit elsewhere does not stop everyone's tests. The failed build leaves no bundle
 * (bundle-cli.mjs removes the old one first), so nothing runs a stale bin: its tests fail
 * until it builds, and the next run tries again.
 */
function bundleCli() {
  const status = run(process.execPath, [join(root, 'scripts', 'bundle-cli.mjs')]);
  if (status === 0) return;
  if (process.env.CONTACT_PSI_STRICT_BUILD === '1') throw buildFailed('scripts/bundle-cli.mjs', status);
  console.error('\n*** the CLI bundle (the bin, dist/src/cli/bundle/) could not be built (above): none is left; tests of the bin fail until it builds ***\n');
}

/** One build at a time across concurrent test runs in the same checkout; a dead owner's lock is taken over. */
async function withLock(fn) {
  mkdirSync(dirname(lockDir), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
      } catch {
        // the owner is between mkdir and writing its pid
      }
      let alive = true;
      if (Number.isSafeInteger(owner)) {
        try {
          process.kill(owner, 0);
        } catch {
          alive = false;
        }
      } else if (Date.now() - statSync(lockDir).mtimeMs > 60_000) {
        alive = false;
      }
      if (!alive) rmSync(lockDir, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/** Rebuilds the stale parts of dist/ (no-op when fresh); throws when a build fails. Returns what was rebuilt. */
export async function ensureFreshDist() {
  if (staleParts().length === 0) return [];
  return withLock(() => {
    const stale = staleParts(); // another run may have built it while we waited
    const before = sourceDigests();
    if (stale.includes('wasm')) {
      for (const script of ['build-wasm.mjs', 'build-wasm-x4.mjs', 'wasm-inline.mjs']) {
        const status = run(process.execPath, [join(root, 'scripts', script)]);
        if (status !== 0) throw buildFailed(`scripts/${script}`, status);
      }
      recordDigests(['wasm'], before);
    }
    // New wasm bytes change the inlined modules (src/group/wasm/*.wasm-bytes.ts): compile them too.
    if (stale.includes('typescript') || stale.includes('wasm')) {
      const sources = sourceDigests();
      runTsc();
      bundleCli();
      recordDigests(['typescript'], sources);
    }
    return stale;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--record')) {
    recordDigests();
  } else if (process.argv.includes('--ensure')) {
    try {
      const rebuilt = await ensureFreshDist();
      console.log(rebuilt.length === 0 ? 'dist/ is up to date' : `dist/ rebuilt: ${rebuilt.join(', ')}`);
    } catch (err) {
      console.error(err.message);
      process.exit(1);
    }
  } else {
    console.error('usage: node scripts/dist-fresh.mjs --record | --ensure');
    process.exit(2);
  }
}
