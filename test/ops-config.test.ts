/**
 * Settings of `contact-psi serve` (issue 12 §5, src/cli/config.ts): flags > CONTACT_PSI_*
 * environment > --config file > defaults, as a property over every setting; a config file
 * with an unknown key, a non-object, a nested value or over 1 MiB is refused with its code;
 * and through the built CLI: settings from a config file and the environment (admin port on
 * loopback, JSON log lines on stderr), SIGHUP reloads the tokens file (a new token is
 * accepted, a broken file keeps the old tokens).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envNameOf, MAX_CONFIG_FILE_BYTES, readConfigFile, resolveSettings, SERVE_SETTINGS, serveSettingsOf, type ServeSettingKey } from '../src/cli/config.js';
import { parseAddressBook } from '../src/contacts/index.js';
import { sync } from './helpers/service.js';

const work = mkdtempSync(join(tmpdir(), 'contact-psi-ops-config-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const keys = Object.keys(SERVE_SETTINGS) as ServeSettingKey[];

describe('precedence', () => {
  it('names the environment variables CONTACT_PSI_ + upper snake case', () => {
    expect(envNameOf('adminPort')).toBe('CONTACT_PSI_ADMIN_PORT');
    expect(envNameOf('kekFile')).toBe('CONTACT_PSI_KEK_FILE');
    expect(envNameOf('db')).toBe('CONTACT_PSI_DB');
  });

  it('takes each setting from the flag, else the environment, else the file, else the default', () => {
    const placed = fc.record(Object.fromEntries(keys.map((k) => [k, fc.record({ flag: fc.boolean(), env: fc.boolean(), file: fc.boolean() })])) as Record<ServeSettingKey, fc.Arbitrary<{ flag: boolean; env: boolean; file: boolean }>>);
    // The generator reaches every rank: all four sources win somewhere in a run.
    const samples = fc.sample(placed, 50).flatMap((p) => Object.values(p));
    expect(samples.some((p) => !p.flag && !p.env && !p.file)).toBe(true);
    expect(samples.some((p) => !p.flag && !p.env && p.file)).toBe(true);
    let n = 0;
    fc.assert(
      fc.property(placed, (placement) => {
        const flags: Partial<Record<ServeSettingKey, string>> = {};
        const env: NodeJS.ProcessEnv = {};
        const file: Record<string, string> = {};
        for (const k of keys) {
          if (placement[k].flag) flags[k] = `flag-${k}`;
          if (placement[k].env) env[envNameOf(k)] = `env-${k}`;
          if (placement[k].file) file[k] = `file-${k}`;
        }
        const path = join(work, `config-${n++}.json`);
        writeFileSync(path, JSON.stringify(file));
        const { values, sources } = resolveSettings(SERVE_SETTINGS, flags, env, path);
        for (const k of keys) {
          const p = placement[k];
          const expected = p.flag ? ['flag', `flag-${k}`] : p.env ? ['env', `env-${k}`] : p.file ? ['file', `file-${k}`] : ['default', SERVE_SETTINGS[k]];
          if (expected[1] === undefined) expect(values[k]).toBeUndefined();
          else expect([sources[k], values[k]]).toEqual(expected);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("counts commander's defaults as defaults, not as flags", () => {
    const path = join(work, 'port.json');
    writeFileSync(path, JSON.stringify({ port: 9000, logLevel: 'warn' }));
    const command = { getOptionValueSource: (key: string) => (key === 'host' ? 'cli' : 'default') };
    const out = serveSettingsOf({ port: '7878', host: '0.0.0.0', logLevel: 'info', config: path }, command, { CONTACT_PSI_LOG_LEVEL: 'debug' });
    expect(out).toMatchObject({ port: '9000', host: '0.0.0.0', logLevel: 'debug', adminHost: '127.0.0.1' });
  });
});

describe('config file', () => {
  const write = (name: string, text: string) => {
    const path = join(work, name);
    writeFileSync(path, text);
    return path;
  };
  it('refuses an unknown key, a non-object, a nested value and bad JSON with config_invalid', () => {
    expect(() => readConfigFile(write('unknown.json', '{"prot": 1}'), keys)).toThrow(expect.objectContaining({ code: 'config_invalid', message: expect.stringContaining('"prot"') }));
    expect(() => readConfigFile(write('array.json', '[1]'), keys)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    expect(() => readConfigFile(write('nested.json', '{"port": {"a": 1}}'), keys)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    expect(() => readConfigFile(write('bad.json', '{port: 1}'), keys)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    expect(() => readConfigFile(join(work, 'missing.json'), keys)).toThrow(expect.objectContaining({ code: 'config_unreadable' }));
  });
  it('reads a file of exactly 1 MiB and refuses one byte more', () => {
    const body = '{"port": 1}';
    const at = write('at-limit.json', body + ' '.repeat(MAX_CONFIG_FILE_BYTES - body.length));
    expect(readConfigFile(at, keys)).toEqual({ port: '1' });
    const over = write('over-limit.json', body + ' '.repeat(MAX_CONFIG_FILE_BYTES - body.length + 1));
    expect(() => readConfigFile(over, keys)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });
});

describe('contact-psi serve with a config file, the environment and SIGHUP', () => {
  const cli = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
  const TOKEN_A = 'app-a-0123456789abcdef';
  const TOKEN_B = 'app-b-fedcba9876543210';
  let server: ChildProcess | undefined;
  let err = '';
  let url = '';
  let admin = '';
  afterAll(() => server?.kill('SIGKILL'));

  beforeAll(async () => {
    writeFileSync(join(work, 'users.csv'), ['user_id,phones,emails,label,discoverable', 'alice,+41791234567,,pk-alice,true'].join('\n'));
    const imported = spawnSync(process.execPath, [cli, 'directory', 'import', 'users.csv', '--db', 'dir.db'], { cwd: work, encoding: 'utf8' });
    expect(imported.status, imported.stderr).toBe(0);
    writeFileSync(join(work, 'tokens'), `${TOKEN_A} app-a\n`, { mode: 0o600 });
    // db and tokens from the file, the admin port from the environment, the port from a flag.
    writeFileSync(join(work, 'serve.json'), JSON.stringify({ db: 'dir.db', tokens: 'tokens', port: 1, adminPort: 1 }));
    server = spawn(process.execPath, [cli, 'serve', '--config', 'serve.json', '--port', '0'], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CONTACT_PSI_ADMIN_PORT: '0' },
    });
    server.stderr!.on('data', (d) => (err += d));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      server!.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (ws:\/\/\S+)/.exec(out);
        const a = /admin listening on (http:\/\/\S+)/.exec(out);
        if (m && a) {
          url = m[1];
          admin = a[1];
          resolve();
        }
      });
      server!.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    });
  });

  const book = () => parseAddressBook('name,phone\nAlice,+41791234567\n', { defaultRegion: 'CH' });

  it('takes the file and the environment, binds the admin port on loopback, logs JSON lines', async () => {
    expect(new URL(admin).hostname).toBe('127.0.0.1');
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    const outcome = await sync(url, book(), join(work, 'cache-a'), { token: TOKEN_A });
    expect(outcome.matches.map((m) => m.userId)).toEqual(['alice']);
    while (!/"event":"session"/.test(err)) await once(server!.stderr!, 'data');
    const line = err.split('\n').find((l) => l.includes('"event":"session"'))!;
    expect(JSON.parse(line)).toMatchObject({ outcome: 'ok', evaluated: 1 });
    expect(err).not.toContain(TOKEN_A);
    expect(err).not.toContain('app-a ');
  });

  it('reloads the tokens file on SIGHUP, and keeps the old tokens when the new file is broken', async () => {
    await expect(sync(url, book(), join(work, 'cache-b0'), { token: TOKEN_B })).rejects.toThrow();
    writeFileSync(join(work, 'tokens'), `${TOKEN_A} app-a\n${TOKEN_B} app-b\n`, { mode: 0o600 });
    server!.kill('SIGHUP');
    while (!/reloaded 2 tokens/.test(err)) await once(server!.stderr!, 'data');
    expect((await sync(url, book(), join(work, 'cache-b'), { token: TOKEN_B })).matches).toHaveLength(1);

    writeFileSync(join(work, 'tokens'), 'short\n', { mode: 0o600 });
    server!.kill('SIGHUP');
    while (!/tokens reload failed/.test(err)) await once(server!.stderr!, 'data');
    expect(err).not.toContain('short\n');
    expect((await sync(url, book(), join(work, 'cache-b2'), { token: TOKEN_B })).matches).toHaveLength(1);
  });
});
