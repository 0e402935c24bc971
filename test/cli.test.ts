/**
 * The command as an operator runs it: `directory import`, `serve`, `sync --json`, `keygen`,
 * as child processes of the built CLI (dist/, built by `npm ci` / `npm install`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cli = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'contact-psi-cli-'));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: work, timeout: 120_000 });

let server: ChildProcess | undefined;
let url = '';

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build`);
  writeFileSync(
    join(work, 'users.csv'),
    [
      'user_id,phones,emails,label,discoverable',
      'alice,+41 79 123 45 67;0041 79 765 43 21,Alice@Example.org,pk-alice,true',
      'bob,079 555 12 12,,pk-bob,',
      'carol,+41 79 999 99 99,carol@example.org,pk-carol,false',
      'broken,not-a-number,,x,true',
    ].join('\n'),
  );
  const imported = run('directory', 'import', 'users.csv', '--db', 'dir.db', '--region', 'CH');
  expect(imported.status, imported.stderr).toBe(0);
  expect(imported.stderr).toMatch(/row 5.*broken/);
  server = spawn(process.execPath, [cli, 'serve', '--db', 'dir.db', '--port', '0'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
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
  rmSync(work, { recursive: true, force: true });
});

describe('contact-psi CLI', () => {
  it('the key file beside the directory is mode 0600', () => {
    expect(statSync(join(work, 'dir.db.key')).mode & 0o777).toBe(0o600);
  });

  it('serve prints one line with a loopback URL', () => {
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
  });

  it('sync --json prints the matches of registered, discoverable contacts only', () => {
    writeFileSync(
      join(work, 'book.vcf'),
      [
        'BEGIN:VCARD', 'VERSION:3.0', 'FN:Alice A.', 'TEL;TYPE=CELL:079 123 45 67', 'EMAIL:alice@EXAMPLE.org', 'END:VCARD',
        'BEGIN:VCARD', 'VERSION:4.0', 'FN:Bob', 'TEL:+41795551212', 'END:VCARD',
        'BEGIN:VCARD', 'VERSION:3.0', 'FN:Carol', 'TEL:+41 79 999 99 99', 'END:VCARD',
        'BEGIN:VCARD', 'VERSION:3.0', 'FN:Nobody', 'TEL:+41 79 000 00 00', 'TEL:garbage', 'END:VCARD',
      ].join('\r\n'),
    );
    const res = run('sync', '--server', url, '--contacts', 'book.vcf', '--region', 'CH', '--json', '--cache', join(work, 'cache'));
    expect(res.status, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/garbage/);
    const matches = JSON.parse(res.stdout) as { name: string; identifier: string; userId: string; label: string }[];
    expect(matches).toEqual([
      { name: 'Alice A.', identifier: 'mailto:alice@example.org', userId: 'alice', label: 'pk-alice' },
      { name: 'Alice A.', identifier: 'tel:+41791234567', userId: 'alice', label: 'pk-alice' },
      { name: 'Bob', identifier: 'tel:+41795551212', userId: 'bob', label: 'pk-bob' },
    ]);
    // The same on a worker pool (blinding and finalizing off the main thread): same matches.
    const pooled = run('sync', '--server', url, '--contacts', 'book.vcf', '--region', 'CH', '--json', '--cache', join(work, 'cache'), '--workers', '2');
    expect(pooled.status, pooled.stderr).toBe(0);
    expect(JSON.parse(pooled.stdout)).toEqual(matches);
    expect(run('sync', '--server', url, '--contacts', 'book.vcf', '--workers', 'many').stderr).toMatch(/\[invalid_option\] --workers takes a non-negative integer or auto/);
  });

  it('keygen writes a 0600 key file and prints only the public key', () => {
    const res = run('keygen', '--out', 'epoch.key');
    expect(res.status, res.stderr).toBe(0);
    expect(statSync(join(work, 'epoch.key')).mode & 0o777).toBe(0o600);
    expect(res.stdout).toMatch(/public key [0-9a-f]{64}/);
    expect(res.stdout).not.toMatch(/secret/i);
    expect(run('keygen', '--out', 'epoch.key').status).not.toBe(0);
  });
});
