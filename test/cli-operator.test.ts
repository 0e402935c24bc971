/**
 * Issue 9 §3 as an operator meets it, through the built CLI (dist/): a label that would
 * not fit a client is refused at import with its row, the directory files are 0600, the
 * tokens file ignores comments and says what it loaded, `sync` takes its token from the
 * environment, and `directory rotate` is refused while `serve` owns the directory (but
 * free once the server is killed), while `directory import` beside it still works.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cli = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'contact-psi-ops-'));
const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: work, timeout: 120_000, env: { ...process.env, CONTACT_PSI_TOKEN: '', ...env } });

const TOKEN_A = 'app-a-0123456789abcdef';
const TOKEN_B = 'app-b-fedcba9876543210';
let server: ChildProcess | undefined;
let serverErr = '';
let url = '';

function startServe(args: string[]): Promise<string> {
  server = spawn(process.execPath, [cli, 'serve', '--db', 'dir.db', '--port', '0', ...args], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stderr!.on('data', (d) => (serverErr += d));
  return new Promise<string>((resolve, reject) => {
    let out = '';
    server!.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (ws:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    server!.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${serverErr}`)));
  });
}

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build`);
  writeFileSync(
    join(work, 'users.csv'),
    [
      'user_id,phones,emails,label,discoverable',
      'alice,+41791234567,,pk-alice,true',
      `bigkey,+41791234568,,${'k'.repeat(4096)},true`,
    ].join('\n'),
  );
  const imported = run(['directory', 'import', 'users.csv', '--db', 'dir.db']);
  expect(imported.status, imported.stderr).toBe(0);
  writeFileSync(join(work, 'tokens'), `# the two apps\n\n${TOKEN_A} app-a\n  ${TOKEN_B}\n`, { mode: 0o600 });
  url = await startServe(['--tokens', 'tokens']);
});

afterAll(() => {
  server?.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

describe('operator-facing hardening', () => {
  it('a label that would seal past 4,096 bytes is refused at import with its row and code', () => {
    const again = run(['directory', 'import', 'users.csv', '--db', 'dir.db']);
    expect(again.stderr).toMatch(/users\.csv: row 3 \(bigkey\): \[label_too_long\]/);
  });

  it('the directory files are 0600', () => {
    for (const suffix of ['', '-wal', '-shm', '.key', '.lock']) {
      const path = join(work, `dir.db${suffix}`);
      if (existsSync(path)) expect([suffix, statSync(path).mode & 0o777]).toEqual([suffix, 0o600]);
    }
  });

  it('serve ignores the comment, loads two tokens for two accounts, and says so without printing a token', () => {
    expect(serverErr).toContain('loaded 2 tokens for 2 accounts');
    expect(serverErr.includes(TOKEN_A) || serverErr.includes(TOKEN_B)).toBe(false);
  });

  it('sync takes its token from CONTACT_PSI_TOKEN; a comment is no token', () => {
    const book = join(work, 'book.csv');
    writeFileSync(book, 'name,phone\nAlice,+41791234567\n');
    const ok = run(['sync', '--server', url, '--contacts', 'book.csv', '--json', '--cache', 'cache-a'], { CONTACT_PSI_TOKEN: TOKEN_A });
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).map((m: { userId: string }) => m.userId)).toEqual(['alice']);
    const hash = run(['sync', '--server', url, '--contacts', 'book.csv', '--json', '--cache', 'cache-b'], { CONTACT_PSI_TOKEN: '#' });
    expect(hash.status).not.toBe(0);
  });

  it('directory rotate is refused while serve owns the directory, naming its pid; import still works', () => {
    const rotate = run(['directory', 'rotate', '--db', 'dir.db']);
    expect(rotate.status).toBe(1);
    expect(rotate.stderr).toContain('[directory_locked]');
    expect(rotate.stderr).toContain(`process ${server!.pid} (serve`);
    const imported = run(['directory', 'import', 'users.csv', '--db', 'dir.db']);
    expect(imported.status, imported.stderr).toBe(0);
  });

  it('once the server is killed (-9), its lock is free and rotate runs', async () => {
    const exited = once(server!, 'exit');
    server!.kill('SIGKILL');
    await exited;
    const rotate = run(['directory', 'rotate', '--db', 'dir.db']);
    expect(rotate.status, rotate.stderr).toBe(0);
    expect(rotate.stdout).toMatch(/rotated to epoch 2/);
  });

  it('serve refuses a tokens file with a short token, naming the line but not the token', () => {
    writeFileSync(join(work, 'bad-tokens'), `# ok\n${TOKEN_A}\nshort-secret\n`, { mode: 0o600 });
    const refused = run(['serve', '--db', 'dir.db', '--port', '0', '--tokens', 'bad-tokens']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('[tokens_file_invalid]');
    expect(refused.stderr).toContain('line 3');
    expect(refused.stderr).not.toContain('short-secret');
  });
});
