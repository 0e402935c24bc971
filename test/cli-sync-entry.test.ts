/**
 * The bin's entry (src/cli/sync-entry.ts): which `sync` command lines it connects for before
 * commander loads (sync-entry-argv.ts), and that the bin behaves as before for every other
 * one: a bad option never connects, --help connects nowhere, a token's warning is printed
 * once. The command-line cases run the real bin against a real loopback server.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { WebSocketServer } from 'ws';
import { rejectUpgrade } from '../src/transport/ws/http-reject.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { getCountries } from 'libphonenumber-js/max';
import { earlySyncPlan, PHONE_REGIONS } from '../src/cli/sync-entry-argv.js';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const bin = join(root, pkg.bin['contact-psi']);
/** tsc's CLI: main.ts without the bin's early entry, the reference for what the bin must print. */
const unbundled = join(root, 'dist', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'contact-psi-sync-entry-'));
const book = join(work, 'book.csv');

beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} (the bin) is missing: run npm run build`);
  writeFileSync(book, 'name,phone\nAlice,+41 79 123 45 67\n');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const HEX = 'ab'.repeat(32);

type Part = { name: string; args: string[]; valid: boolean };
const valueOption = (name: string, value: string, valid: boolean, eq: boolean): Part => ({ name, args: eq ? [`${name}=${value}`] : [name, value], valid });
const partArb: fc.Arbitrary<Part> = fc.boolean().chain((eq) =>
  fc.oneof(
    fc.constantFrom(
      valueOption('--contacts', 'book.csv', true, eq),
      valueOption('--cache', 'cache-dir', true, eq),
      valueOption('--pin', HEX, true, eq),
      valueOption('--pin-identity', HEX.toUpperCase(), true, eq),
      valueOption('--region', 'ch', true, eq),
      valueOption('--region', 'XK', true, eq),
      valueOption('--workers', 'auto', true, eq),
      valueOption('--workers', '2', true, eq),
      valueOption('--witness', 'wss://witness.example/', true, eq),
      valueOption('--token', 'a-token-of-16-chars', true, eq),
      valueOption('--token-file', 'token.txt', true, eq),
      { name: '--json', args: ['--json'], valid: true },
      { name: '--reset-cache', args: ['--reset-cache'], valid: true },
    ),
    fc.constantFrom(
      valueOption('--pin', 'zz', false, eq),
      valueOption('--pin-identity', HEX.slice(2), false, eq),
      valueOption('--region', 'ZZ', false, eq),
      valueOption('--region', 'CHE', false, eq),
      valueOption('--workers', 'many', false, eq),
      valueOption('--witness', 'http://witness.example/', false, eq),
      valueOption('--server', 'not a url', false, eq),
      valueOption('--contacts', '-book.csv', false, eq),
      valueOption('--cache', '', false, eq),
      { name: '--strict', args: ['--strict'], valid: false },
      { name: '--help', args: ['--help'], valid: false },
      { name: '-h', args: ['-h'], valid: false },
      { name: '--version', args: ['--version'], valid: false },
      { name: '--bogus', args: ['--bogus'], valid: false },
      { name: 'operand', args: ['extra'], valid: false },
      { name: '--json', args: ['--json=yes'], valid: false },
      { name: '--', args: ['--'], valid: false },
      { name: '--server', args: ['--server'], valid: false },
    ),
  ),
);

describe('earlySyncPlan: the command lines the entry connects for', () => {
  it('knows the regions libphonenumber knows (what regionValue accepts)', () => {
    expect([...PHONE_REGIONS].sort()).toEqual([...getCountries()].sort());
  });

  it('only a sync with --server and --contacts, every value as main.ts checks it, no option twice (but --witness), no --strict/--help/unknown option or operand', () => {
    const argvArb = fc.record({
      server: fc.option(fc.constantFrom('ws://127.0.0.1:7878', 'wss://dir.example/x?y=1'), { nil: undefined }),
      parts: fc.array(partArb, { maxLength: 6 }),
      command: fc.constantFrom('sync', 'sync', 'sync', 'serve', 'SYNC'),
    });
    // The generator reaches accepted command lines and each kind of refusal.
    const sample = fc.sample(argvArb, 300);
    expect(sample.some((s) => s.command === 'sync' && s.server && s.parts.every((p) => p.valid) && s.parts.some((p) => p.name === '--contacts'))).toBe(true);
    fc.assert(
      fc.property(argvArb, fc.nat(), ({ server, parts, command }, at) => {
        const all = [...parts];
        if (server !== undefined) all.splice(at % (all.length + 1), 0, { name: '--server', args: ['--server', server], valid: true });
        const args = [command, ...all.flatMap((p) => p.args)];
        const names = all.map((p) => p.name);
        const twice = names.some((n, i) => n !== '--witness' && names.indexOf(n) !== i);
        const accepted = command === 'sync' && server !== undefined && names.includes('--contacts') && all.every((p) => p.valid) && !twice;
        const plan = earlySyncPlan(args);
        expect(plan !== undefined, args.join(' ')).toBe(accepted);
        if (plan) {
          expect(plan.server).toBe(server);
          const token = all.find((p) => p.name === '--token');
          expect(plan.tokenOptions.token).toBe(token ? 'a-token-of-16-chars' : undefined);
        }
      }),
      { numRuns: 500 },
    );
  });
});

/** A loopback TCP server noting each request head; it answers 401 and closes. */
async function recordingServer(): Promise<{ url: string; heads: string[]; close: () => Promise<void> }> {
  const heads: string[] = [];
  const server = createServer((socket) => {
    let got = '';
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      got += d.toString('latin1');
      if (!got.includes('\r\n\r\n')) return;
      heads.push(got);
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, heads, close: () => new Promise((r) => server.close(() => r())) };
}

function runBin(args: string[], env: NodeJS.ProcessEnv = {}, entry = bin): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [entry, ...args], { cwd: work, env: { ...process.env, CONTACT_PSI_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the bin with the early path', () => {
  it('a bad option: commander reports it and nothing connects', async () => {
    const s = await recordingServer();
    try {
      const r = await runBin(['sync', '--server', s.url, '--contacts', book, '--cache', join(work, 'c1'), '--pin', 'zz']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\[invalid_option\] --pin takes/);
      expect(s.heads).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('sync --help prints the help and connects nowhere', async () => {
    const s = await recordingServer();
    try {
      const r = await runBin(['sync', '--server', s.url, '--contacts', book, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/--server <ws-url>/);
      expect(s.heads).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('--token: one warning, one connection carrying the token; the refusal reported as before (unauthorized)', async () => {
    const s = await recordingServer();
    try {
      const r = await runBin(['sync', '--server', s.url, '--contacts', book, '--cache', join(work, 'c2'), '--token', 'a-token-of-16-chars']);
      expect(r.code).toBe(1);
      expect(r.stderr.match(/warning: --token is visible/g)).toHaveLength(1);
      expect(r.stderr).toMatch(/\[unauthorized\]/);
      expect(s.heads).toHaveLength(1);
      expect(s.heads[0]).toMatch(/\r\nAuthorization: Bearer a-token-of-16-chars\r\n/i);
      // The entry's hand-written request (Host first; Node's http, under ws, writes it last).
      expect(s.heads[0]).toMatch(/^GET \/ HTTP\/1\.1\r\nHost: /);
    } finally {
      await s.close();
    }
  });

  it('a token error (--token and --token-file): reported once by main.ts, nothing connects', async () => {
    const s = await recordingServer();
    try {
      writeFileSync(join(work, 'token.txt'), 'a-token-of-16-chars\n', { mode: 0o600 });
      const r = await runBin(['sync', '--server', s.url, '--contacts', book, '--token', 'a-token-of-16-chars', '--token-file', 'token.txt']);
      expect(r.code).toBe(1);
      expect(r.stderr.match(/give either --token or --token-file/g)).toHaveLength(1);
      expect(s.heads).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe('errors through the early path are the CLI\'s own (the bin against tsc\'s main.js, which has no early entry)', () => {
  const servers: { close: () => unknown }[] = [];
  const urls: Record<string, string> = {};

  beforeAll(async () => {
    const closed = createServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    urls.refused = `ws://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const plain = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    plain.on('connection', (ws) => ws.close(1011, 'not a directory'));
    await once(plain, 'listening');
    servers.push({ close: () => plain.close() });
    const plainPort = (plain.address() as AddressInfo).port;
    urls.tlsToPlain = `wss://127.0.0.1:${plainPort}`;
    urls.closing = `ws://127.0.0.1:${plainPort}`;
    for (const status of [401, 429, 503]) {
      const server: HttpServer = createHttpServer((_req, res) => res.end());
      server.on('upgrade', (_req, socket) => rejectUpgrade(socket, status, status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      servers.push(server);
      urls[String(status)] = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
    urls.dns = 'ws://contact-psi-test.invalid:7878';
  });
  afterAll(() => servers.forEach((s) => s.close()));

  it.each([['refused'], ['tlsToPlain'], ['closing'], ['401'], ['429'], ['503'], ['dns']])('%s: the same exit status and the same stderr', async (which) => {
    const args = ['sync', '--server', urls[which], '--contacts', book, '--cache', join(work, `c-${which}`), '--workers', '0'];
    const [viaBin, viaMain] = await Promise.all([runBin(args), runBin(args, {}, unbundled)]);
    expect(viaMain.code).toBe(1);
    expect(viaMain.stderr).toMatch(/contact-psi: \[[a-z_]+\]/);
    expect(viaBin.code).toBe(viaMain.code);
    expect(viaBin.stderr).toBe(viaMain.stderr);
  });
});

describe('wss:// through the early path (TLS, SNI, the certificate checked by Node\'s CAs)', () => {
  let serve: ChildProcess | undefined;
  const closers: (() => void)[] = [];
  afterAll(() => {
    serve?.kill('SIGTERM');
    closers.forEach((c) => c());
  });

  it('a sync to a wss:// directory (a TLS front for `serve`, its certificate trusted through NODE_EXTRA_CA_CERTS) finds the registered contact', async () => {
    // A self-signed certificate for localhost (openssl is part of the build tools here).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem')], { stdio: 'ignore' });
    writeFileSync(join(work, 'users.csv'), ['user_id,phones,emails,label,discoverable', 'alice,+41 79 123 45 67,,pk-alice,true'].join('\n'));
    const imported = spawnSync(process.execPath, [bin, 'directory', 'import', 'users.csv', '--db', 'dir.db'], { encoding: 'utf8', cwd: work, timeout: 120_000 });
    expect(imported.status, imported.stderr).toBe(0);
    serve = spawn(process.execPath, [bin, 'serve', '--db', 'dir.db', '--port', '0'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    const plainUrl = await new Promise<URL>((resolve, reject) => {
      let out = '';
      serve!.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (ws:\/\/\S+)/.exec(out);
        if (m) resolve(new URL(m[1]));
      });
      serve!.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    let servername: string | false | undefined;
    const front = createTlsServer({ key: readFileSync(join(work, 'key.pem')), cert: readFileSync(join(work, 'cert.pem')) }, (tls) => {
      servername = (tls as unknown as { servername: string | false }).servername;
      const up = connect(Number(plainUrl.port), plainUrl.hostname);
      tls.pipe(up).pipe(tls);
      tls.on('error', () => up.destroy());
      up.on('error', () => tls.destroy());
    });
    front.listen(0, '127.0.0.1');
    await once(front, 'listening');
    closers.push(() => front.close());
    const url = `wss://localhost:${(front.address() as AddressInfo).port}`;
    const r = await runBin(['sync', '--server', url, '--contacts', book, '--cache', join(work, 'c-wss'), '--workers', '0', '--json'], { NODE_EXTRA_CA_CERTS: join(work, 'cert.pem') });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { userId: string }[]).map((m) => m.userId)).toEqual(['alice']);
    expect(servername).toBe('localhost');
    // Without the certificate trusted, the same command fails as tsc's CLI does: tls_failure.
    const untrusted = await Promise.all([runBin(['sync', '--server', url, '--contacts', book, '--cache', join(work, 'c-wss2')]), runBin(['sync', '--server', url, '--contacts', book, '--cache', join(work, 'c-wss2')], {}, unbundled)]);
    expect(untrusted[0].stderr).toMatch(/\[tls_failure\]/);
    expect(untrusted[0].stderr).toBe(untrusted[1].stderr);
  });
});
