/**
 * Issue 12 §2: the published package as a consumer gets it. `npm pack` makes the tarball,
 * which is installed into a scratch app in a temp dir with nothing else but @types/node
 * (offline: `npm ci --offline` from a lockfile holding the repository's own pinned
 * versions, so npm takes every tarball from its cache), and then
 * - a strict Node consumer (skipLibCheck off) type-checks against the `contact-psi` entry
 *   and runs: it syncs a small book against a real server and finds exactly the planted rows;
 * - a strict DOM-only consumer (lib ES2022 + DOM, `types: []`, skipLibCheck off)
 *   type-checks against `contact-psi/browser` (was TS2307 on node:http, TS7016 on ws,
 *   better-sqlite3 and pg types).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { seededRng } from '../src/contacts/generate.js';
import { buildDirectory, expectedRows, generateUsers, smallBook, tempDir, writeBook } from './helpers/service.js';
import { assertDistFresh } from './helpers/worker-build.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const tmp = tempDir('contact-psi-package-consumer-');
const app = join(tmp.path, 'app');
afterAll(() => tmp.cleanup());

interface LockEntry {
  version: string;
  resolved?: string;
  dev?: boolean;
  [field: string]: unknown;
}

/**
 * The scratch app's lockfile: contact-psi from the tarball, and every package the repository
 * lock installs for production (plus @types/node for the Node consumer), with the registry
 * URLs npm needs to find them in its cache. `npm ci --offline` then installs exactly the
 * versions this repository was tested with, without the network.
 */
function scratchLock(tarball: string): { manifest: object; lock: object } {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const repoLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const spec = `file:${tarball}`;
  const manifest = {
    name: 'scratch-consumer',
    version: '1.0.0',
    private: true,
    type: 'module',
    dependencies: { 'contact-psi': spec },
    devDependencies: { '@types/node': pkg.devDependencies['@types/node'] },
  };
  const packages: Record<string, object> = {
    '': { name: manifest.name, version: manifest.version, dependencies: manifest.dependencies, devDependencies: manifest.devDependencies },
    'node_modules/contact-psi': { version: pkg.version, resolved: spec, license: pkg.license, dependencies: pkg.dependencies, engines: pkg.engines },
  };
  const forNodeConsumer = new Set(['node_modules/@types/node', 'node_modules/undici-types']);
  for (const [path, entry] of Object.entries(repoLock.packages)) {
    if (!path.startsWith('node_modules/') || path.startsWith('node_modules/contact-psi')) continue;
    if (entry.dev && !forNodeConsumer.has(path)) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const resolved = entry.resolved ?? `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${entry.version}.tgz`;
    packages[path] = { ...entry, resolved, dev: forNodeConsumer.has(path) && !pkg.dependencies[name] ? true : undefined };
  }
  return { manifest, lock: { name: manifest.name, version: manifest.version, lockfileVersion: 3, requires: true, packages } };
}

const STRICT = { strict: true, skipLibCheck: false, noEmitOnError: true, target: 'ES2022', forceConsistentCasingInFileNames: true };

let server: RunningServer;
let bookPath = '';
let expected: { identifier: string; userId: string }[] = [];

beforeAll(async () => {
  assertDistFresh();
  // The server and the book (a real server, as `contact-psi serve` runs it).
  const rng = seededRng(1212);
  const users = generateUsers(rng, 300);
  const contacts = smallBook(rng, users, { contacts: 60, registered: 25, unregistered: 40 });
  expected = expectedRows(contacts, users).map((r) => ({ identifier: r.identifier, userId: r.userId }));
  bookPath = join(tmp.path, 'book.vcf');
  writeFileSync(bookPath, writeBook(contacts, 'vcard-3.0'));
  const directory = await buildDirectory(join(tmp.path, 'server'), users);
  server = await serveDirectory(directory, { host: '127.0.0.1', port: 0 });

  // Pack (no scripts: dist/ was checked fresh above) and install into the scratch app.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp.path], { cwd: root });
  const tarball = join(tmp.path, packed.stdout.trim().split('\n').pop()!);
  mkdirSync(app, { recursive: true });
  const { manifest, lock } = scratchLock(tarball);
  writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lock, null, 2));
  // --ignore-scripts: better-sqlite3 stays unbuilt (its build needs the network); the Node
  // consumer only runs the client, which never opens a database.
  await run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app });
  for (const file of ['node-app.ts', 'browser-app.ts']) copyFileSync(join(root, 'test', 'package-consumer', file), join(app, file));
  writeFileSync(
    join(app, 'tsconfig.node.json'),
    JSON.stringify({ compilerOptions: { ...STRICT, module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'], outDir: 'out' }, files: ['node-app.ts'] }),
  );
  writeFileSync(
    join(app, 'tsconfig.browser.json'),
    JSON.stringify({ compilerOptions: { ...STRICT, module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], types: [], noEmit: true }, files: ['browser-app.ts'] }),
  );
}, 180_000);

afterAll(() => server?.close());

/** tsc's diagnostics, or '' when the project type-checks. */
async function typecheck(project: string): Promise<string> {
  try {
    await run(process.execPath, [TSC, '-p', join(app, project), '--pretty', 'false'], { cwd: app });
    return '';
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}

describe('the packed tarball in a scratch app', () => {
  it('holds the entries, their declarations and no .wasm file (the bytes are inlined)', () => {
    const dist = join(app, 'node_modules', 'contact-psi', 'dist', 'src');
    for (const file of ['index.js', 'index.d.ts', 'browser.js', 'browser.d.ts']) expect(readdirSync(dist)).toContain(file);
    expect(readdirSync(join(dist, 'group', 'wasm')).filter((f) => f.endsWith('.wasm'))).toEqual([]);
  });

  it('type-checks a strict DOM-only consumer of contact-psi/browser, and a strict Node consumer of contact-psi', async () => {
    const [browser, node] = await Promise.all([typecheck('tsconfig.browser.json'), typecheck('tsconfig.node.json')]);
    expect(browser).toBe('');
    expect(node).toBe('');
  });

  it('runs the Node consumer against a real server: exactly the planted rows, no slow-path warning', async () => {
    const { stdout } = await run(process.execPath, [join(app, 'out', 'node-app.js'), server.server.url, bookPath, join(tmp.path, 'cache')], { cwd: app });
    const result = JSON.parse(stdout) as { rows: { identifier: string; userId: string }[]; checked: number; warnings: string[] };
    const key = (r: { identifier: string; userId: string }) => `${r.identifier} ${r.userId}`;
    expect(expected.length).toBeGreaterThan(10);
    expect(new Set(result.rows.map(key))).toEqual(new Set(expected.map(key)));
    expect(result.warnings).toEqual([]);
  });
});
