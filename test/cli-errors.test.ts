/**
 * Errors people can act on (issue 12 §4): the built CLI, run as a user runs it, names why a
 * connection failed (each cause its own code and hint, where all used to print `connection
 * closed with 1006`), and refuses a bad option value with `invalid_option` naming the option
 * before it reads a file or contacts a server.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectUpgrade } from '../src/transport/ws/http-reject.js';

const cli = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'contact-psi-cli-errors-'));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a child process; asynchronous, so servers in this process keep answering. */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: work, env: { ...process.env, CONTACT_PSI_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const sync = (server: string, ...extra: string[]) => ['sync', '--server', server, '--contacts', 'book.vcf', '--cache', join(work, 'cache'), ...extra];

/** The `[code]` of the CLI's error line. */
const codeOf = (r: Run): string | undefined => /contact-psi: \[([a-z_]+)\]/.exec(r.stderr)?.[1];
const hintOf = (r: Run): string => /^hint: (.*)$/m.exec(r.stderr)?.[1] ?? '';

/** A port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** An HTTP server refusing every WebSocket upgrade with `status` (as the real server does: transport/ws/http-reject.ts). */
async function refusingServer(status: number): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => res.end());
  server.on('upgrade', (_req, socket) => rejectUpgrade(socket, status, status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

let plain: WebSocketServer;
let plainUrl = '';
const refusing: Record<number, { url: string; server: Server }> = {};

beforeAll(async () => {
  writeFileSync(join(work, 'book.vcf'), ['BEGIN:VCARD', 'VERSION:3.0', 'FN:Alice', 'TEL:+41 79 123 45 67', 'END:VCARD'].join('\r\n'));
  writeFileSync(join(work, 'token'), 'a-token-of-enough-length-1234\n', { mode: 0o600 });
  plain = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  plain.on('connection', (ws) => ws.close(1011, 'not a directory'));
  await new Promise((r) => plain.once('listening', r));
  plainUrl = `127.0.0.1:${(plain.address() as AddressInfo).port}`;
  for (const status of [401, 429, 503]) refusing[status] = await refusingServer(status);
});

afterAll(async () => {
  await new Promise((r) => plain.close(r));
  for (const { server } of Object.values(refusing)) await new Promise((r) => server.close(r));
  rmSync(work, { recursive: true, force: true });
});

describe('a connection that fails names its cause', () => {
  it('a closed port: connect_refused, and a hint to check --server and serve', async () => {
    const r = await run(sync(`ws://127.0.0.1:${await closedPort()}`));
    expect(r.status).toBe(1);
    expect(codeOf(r), r.stderr).toBe('connect_refused');
    expect(r.stderr).toContain('ECONNREFUSED');
    expect(r.stderr).not.toContain('1006');
    expect(hintOf(r)).toMatch(/--server.*serve/);
  });

  it('a host that does not resolve (.invalid, RFC 6761): dns_failure, and a hint about the host name', async () => {
    const r = await run(sync('ws://contact-psi-test.invalid:7878'));
    expect(r.status).toBe(1);
    expect(codeOf(r), r.stderr).toBe('dns_failure');
    expect(r.stderr).toMatch(/ENOTFOUND|EAI_AGAIN/);
    expect(hintOf(r)).toMatch(/host name/);
  });

  it('wss:// to a plain ws server: tls_failure, and a hint that a plain server is ws://', async () => {
    const r = await run(sync(`wss://${plainUrl}`));
    expect(r.status).toBe(1);
    expect(codeOf(r), r.stderr).toBe('tls_failure');
    expect(hintOf(r)).toMatch(/ws:\/\//);
    // The same server over ws:// is reached: it closes at once, and that is what is said.
    const reached = await run(sync(`ws://${plainUrl}`, '--workers', '0'));
    expect(codeOf(reached), reached.stderr).toBe('closed');
    expect(reached.stderr).toContain('1011 (not a directory)');
  });

  it('HTTP 401 without a token: unauthorized, and a hint naming --token-file and CONTACT_PSI_TOKEN', async () => {
    const r = await run(sync(refusing[401]!.url));
    expect(r.status).toBe(1);
    expect(codeOf(r), r.stderr).toBe('unauthorized');
    expect(r.stderr).toContain('HTTP 401');
    expect(hintOf(r)).toMatch(/--token-file/);
    expect(hintOf(r)).toMatch(/CONTACT_PSI_TOKEN/);
  });

  it('HTTP 401 with a token: the hint says the token was not accepted, and never quotes it', async () => {
    const r = await run(sync(refusing[401]!.url, '--token-file', 'token'));
    expect(codeOf(r), r.stderr).toBe('unauthorized');
    expect(hintOf(r)).toMatch(/did not accept the token/);
    expect(r.stderr).not.toContain('a-token-of-enough-length');
  });

  it('HTTP 429: rate_limited with why; HTTP 503: overloaded', async () => {
    const limited = await run(sync(refusing[429]!.url));
    expect(codeOf(limited), limited.stderr).toBe('rate_limited');
    expect(hintOf(limited)).toMatch(/HTTP 429.*too many connections/);
    const full = await run(sync(refusing[503]!.url));
    expect(codeOf(full), full.stderr).toBe('overloaded');
    expect(hintOf(full)).toMatch(/503/);
  });
});

describe('option values are checked before anything runs', () => {
  // Every case points at a closed port: a value that slipped through would fail with connect_refused instead.
  const cases: [string, string[], RegExp][] = [
    ['--pin too short', ['--pin', 'abcd'], /--pin takes .*64 hex digits/],
    ['--pin not hex', ['--pin', 'zz'.repeat(32)], /--pin takes/],
    ['--pin-identity odd length', ['--pin-identity', 'a'.repeat(63)], /--pin-identity takes .*64 hex digits/],
    ['--region unknown', ['--region', 'XX'], /--region takes/],
    ['--region three letters', ['--region', 'che'], /--region takes/],
    ['--workers', ['--workers', 'many'], /--workers takes/],
    ['--witness not a ws URL', ['--witness', 'http://example.org'], /--witness takes a ws:\/\/ or wss:\/\/ URL/],
  ];
  for (const [name, args, message] of cases) {
    it(`sync ${name}: invalid_option naming the option`, async () => {
      const r = await run(sync(`ws://127.0.0.1:${await closedPort()}`, ...args));
      expect(r.status).toBe(1);
      expect(codeOf(r), r.stderr).toBe('invalid_option');
      expect(r.stderr).toMatch(message);
    });
  }

  it('sync --server that is not a ws:// URL', async () => {
    const r = await run(sync('http://127.0.0.1:1'));
    expect(codeOf(r), r.stderr).toBe('invalid_option');
    expect(r.stderr).toMatch(/--server takes a ws:\/\/ or wss:\/\/ URL/);
  });

  it('directory import --fleet-precompute into a SQLite file: invalid_option, and no directory file is created', async () => {
    const db = join(work, 'fleet-precompute.db');
    writeFileSync(join(work, 'users.csv'), 'user_id,phones,emails,label,discoverable\nu1,+41791234567,,,true\n');
    const r = await run(['directory', 'import', join(work, 'users.csv'), '--db', db, '--fleet-precompute']);
    expect(codeOf(r), r.stderr).toBe('invalid_option');
    expect(r.stderr).toMatch(/--fleet-precompute needs a PostgreSQL directory/);
    expect(existsSync(db)).toBe(false);
  });

  it('serve --port out of range, a negative --grace-hours, a zero --quota; directory rotate --grace-hours', async () => {
    const port = await run(['serve', '--db', 'dir.db', '--port', '65536']);
    expect(codeOf(port), port.stderr).toBe('invalid_option');
    expect(port.stderr).toMatch(/--port takes a port from 0 to 65535/);
    const grace = await run(['serve', '--db', 'dir.db', '--grace-hours', '-1']);
    expect(codeOf(grace), grace.stderr).toBe('invalid_option');
    expect(grace.stderr).toMatch(/--grace-hours takes a non-negative number of hours/);
    const quota = await run(['serve', '--db', 'dir.db', '--quota', '0']);
    expect(quota.stderr).toMatch(/\[invalid_option\] --quota takes a whole number of at least 1/);
    const rotate = await run(['directory', 'rotate', '--db', 'dir.db', '--grace-hours', 'soon']);
    expect(rotate.stderr).toMatch(/\[invalid_option\] --grace-hours takes/);
  });

  it('at the edges: 0 hours and upper-case hex pass the check', async () => {
    const r = await run(['directory', 'rotate', '--db', join(work, 'missing', 'dir.db'), '--grace-hours', '0']);
    expect(codeOf(r)).not.toBe('invalid_option');
    const p = await run(sync(`ws://127.0.0.1:${await closedPort()}`, '--pin', 'AB'.repeat(32)));
    expect(codeOf(p), p.stderr).toBe('connect_refused'); // upper-case hex is a valid pin
  });
});
