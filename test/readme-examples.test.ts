/**
 * The README's "Library use" section is a set of real programs (issue 12 §1): every ```ts
 * block there starts with `// examples/<name>.ts` and is that file, byte for byte; every
 * file of examples/ is in the README; `tsc -p examples/tsconfig.json` (strict, as a consumer
 * of the built package through its own name `contact-psi`) passes; and the programs run
 * against a real server: import-users fills a directory, server.ts serves it (with an admin
 * port), sync-once.ts and client-sdk.ts find the user through it with the example's token,
 * and server.ts exits by itself (code 0) after SIGTERM (close() stops everything).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const examples = join(root, 'examples');
const work = mkdtempSync(join(tmpdir(), 'contact-psi-readme-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

/** The ```ts blocks of the README's "Library use" section. */
function libraryBlocks(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Library use\n');
  expect(start).toBeGreaterThan(0);
  const next = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

const exampleFiles = () => readdirSync(examples).filter((f) => f.endsWith('.ts')).sort();

/** The example as Node runs it: TypeScript stripped, `contact-psi` pointing at the built entry. */
function compiled(name: string): string {
  const source = readFileSync(join(examples, name), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const entry = pathToFileURL(join(root, 'dist', 'src', 'index.js')).href;
  const out = join(work, 'js', name.replace(/\.ts$/, '.mjs'));
  mkdirSync(join(work, 'js'), { recursive: true });
  writeFileSync(out, js.replaceAll(/from ['"]contact-psi['"]/g, `from '${entry}'`));
  return out;
}

function run(name: string, env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [compiled(name)], { cwd: work, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('README library examples', () => {
  it('every block is an example file, byte for byte, and every example file is in the README', () => {
    const blocks = libraryBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const named = blocks.map((block) => {
      const m = /^\/\/ examples\/([\w-]+\.ts) /.exec(block);
      expect(m, `a block does not start with "// examples/<name>.ts": ${block.slice(0, 60)}`).not.toBeNull();
      expect(block).toBe(readFileSync(join(examples, m![1]), 'utf8'));
      return m![1];
    });
    expect(named.sort()).toEqual(exampleFiles());
  });

  it('type-checks strictly as a consumer of the package', () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', join(examples, 'tsconfig.json')], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('runs: import, serve, sync once and with the SDK, then the server exits by itself after SIGTERM', async () => {
    const env = { DIRECTORY_DB: join(work, 'directory.db'), PORT: '0', ADMIN_PORT: '0' };
    const imported = run('import-users.ts', env);
    expect(imported.status, imported.stderr).toBe(0);

    const server = spawn(process.execPath, [compiled('server.ts')], { cwd: work, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(server);
    let out = '';
    let err = '';
    server.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = once(server, 'exit');
    while (!/listening on (ws:\/\/\S+), admin on (http:\/\/\S+)/.test(out)) {
      const [chunk] = (await Promise.race([once(server.stdout, 'data'), exited.then(() => [Buffer.from('')])])) as [Buffer];
      if (server.exitCode !== null) throw new Error(`server.ts exited: ${err}`);
      out += chunk.toString();
    }
    const [, url, admin] = /listening on (ws:\/\/\S+), admin on (http:\/\/\S+)/.exec(out)!;
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);

    const once_ = run('sync-once.ts', { SERVER: url, CACHE_DIR: join(work, 'cache-once') });
    expect(once_.status, once_.stderr).toBe(0);
    expect(once_.stdout).toContain('Ada: u1');

    const sdk = run('client-sdk.ts', { SERVER: url, CACHE_DIR: join(work, 'cache-sdk') });
    expect(sdk.status, sdk.stderr).toBe(0);
    expect(sdk.stdout).toContain('Ada: u1 (directory)');
    expect(sdk.stdout).toContain('Bob: user-42 (manual)');

    // The server logged one JSON line per session, and its metrics counted both syncs.
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^contact_psi_sessions_total\{outcome="ok"\} 2$/m);
    server.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code, err).toBe(0);
    expect(err.split('\n').filter((l) => l.includes('"event":"session"'))).toHaveLength(2);
  });
});
