/**
 * Issue 10 §1–§2 through the built CLI, run as a user runs it (`contact-psi sync
 * --pin-identity ...`), against a hostile operator scripted in this process (a real SQLite
 * directory, the real backend, one attack in front of it): each attack exits 1 with its
 * code; a lying delta is refused with a warning and the signed snapshot downloaded (exit 0,
 * the planted probe not shown); a rotation is followed silently; `--witness` catches another
 * signed commitment; `directory info` prints the identity that clients pin.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openAnnouncement, signStatement } from '../src/protocol/discovery/announcement.js';
import { applyDelta } from '../src/protocol/discovery/commitment.js';
import type { PsiServer } from '../src/transport/ws/index.js';
import { bookCsv, hex, honestDirectory, HostileBackend, identityOf, probe, serveBackend, tagOf, USERS, type AttackKind, type HonestDirectory } from './helpers/verify-integration.js';

const cli = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'contact-psi-verify-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
writeFileSync(join(work, 'book.csv'), bookCsv([0, 1, 2, 3], [0]));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a child process; asynchronous, so the servers in this process keep answering. */
function run(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: work, env: { ...process.env, CONTACT_PSI_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

let n = 0;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(skip = 0): Promise<{ honest: HonestDirectory; hostile: HostileBackend; server: PsiServer; cache: string; db: string }> {
  const db = join(work, `dir-${++n}.sqlite`);
  const honest = await honestDirectory(db, identityOf(1), skip);
  const hostile = new HostileBackend(honest.backend, honest.identity, undefined);
  const server = await serveBackend(hostile);
  cleanups.push(async () => {
    await server.close({ graceMs: 0 });
    await honest.close();
  });
  return { honest, hostile, server, cache: join(work, `cache-${n}`), db };
}

const sync = (url: string, cache: string, ...extra: string[]) => run(['sync', '--server', url, '--contacts', 'book.csv', '--region', 'CH', '--cache', cache, '--json', '--workers', '0', '--pin-identity', hex(identityOf(1).publicKey), ...extra]);
const ids = (r: Run): string[] => (JSON.parse(r.stdout) as { userId: string }[]).map((m) => m.userId).sort();

describe('contact-psi sync against a hostile directory', () => {
  const cases: [AttackKind, string][] = [
    ['privateSnapshot', 'split_view'],
    ['perClientKey', 'key_conflict'],
    ['forgedSignature', 'bad_signature'],
    ['foreignIdentity', 'identity_mismatch'],
    ['secondKeyStatement', 'key_conflict'],
  ];
  for (const [kind, code] of cases) {
    it(`${kind}: exit 1 with [${code}]`, async () => {
      const r = await rig();
      expect((await sync(r.server.url, r.cache)).status).toBe(0);
      r.hostile.attack = { kind, plant: probe(0), hide: 1, flip: 9 };
      r.hostile.reset();
      const out = await sync(r.server.url, r.cache);
      expect(out.status).toBe(1);
      expect(out.stderr).toContain(`[${code}]`);
      expect(out.stdout).toBe('');
    });
  }

  it('a lower-epoch key after a followed rotation: exit 1 with [key_conflict]; the rotation itself printed no warning', async () => {
    const r = await rig();
    expect((await sync(r.server.url, r.cache)).status).toBe(0);
    const old = r.honest.backend.current();
    await r.honest.directory.rotateEpoch({ graceMs: 3600_000 });
    await r.honest.backend.refresh();
    r.hostile.reset();
    const rotated = await sync(r.server.url, r.cache);
    expect(rotated.status).toBe(0);
    expect(rotated.stderr).not.toMatch(/warning/);
    expect(ids(rotated)).toEqual(['user-0', 'user-1', 'user-2', 'user-3']);
    r.hostile.old = old;
    r.hostile.attack = { kind: 'lowerEpoch', plant: probe(0), hide: 1, flip: 0 };
    r.hostile.reset();
    const out = await sync(r.server.url, r.cache);
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('[key_conflict]');
  });

  it('a lying delta: refused with a [split_view] warning, the signed snapshot downloaded, the probe not shown and the hidden user shown', async () => {
    const r = await rig(1);
    expect((await sync(r.server.url, r.cache)).status).toBe(0);
    await r.honest.directory.importUsers([USERS[USERS.length - 1]!]);
    await r.honest.directory.precompute();
    await r.honest.backend.refresh();
    r.hostile.attack = { kind: 'lyingDelta', plant: probe(0), hide: 1, flip: 0 };
    r.hostile.reset();
    const out = await sync(r.server.url, r.cache);
    expect(out.status).toBe(0);
    expect(out.stderr).toMatch(/warning: \[split_view\].*delta was refused/);
    expect(ids(out)).toEqual(['user-0', 'user-1', 'user-2', 'user-3']);
  });

  it('--witness holding another signed commitment: exit 1 with [split_view]', async () => {
    const r = await rig();
    const view = r.honest.backend.current();
    const signed = openAnnouncement(view.signed!.announcement);
    const lie = applyDelta({ count: signed.statement.count, digest: signed.statement.commitment }, tagOf(view, probe(0)).subarray(0, 8), new Uint8Array(0));
    const other = signStatement({ ...signed.statement, count: lie.count, commitment: lie.digest }, r.honest.identity.secretKey);
    const witness = await serveBackend({ ...r.hostile, current: () => view, epoch: () => view, sealedLabels: async (_e, k) => k.map(() => undefined), announcements: async () => [other.bytes] });
    cleanups.push(() => witness.close({ graceMs: 0 }));
    const out = await sync(r.server.url, r.cache, '--witness', witness.url);
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('[split_view]');
    // The honest server as its own witness confirms.
    const ok = await sync(r.server.url, r.cache, '--witness', r.server.url);
    expect(ok.status).toBe(0);
  });
});

describe('contact-psi directory info', () => {
  it('prints the identity key clients pin, the signed epoch keys and the current announcement', async () => {
    const r = await rig();
    const view = r.honest.backend.current();
    const out = await run(['directory', 'info', '--db', r.db, '--json']);
    expect(out.status).toBe(0);
    const info = JSON.parse(out.stdout) as { identity: string; epochKeys: { epoch: number; publicKey: string }[]; announcement: { epoch: number; version: number; count: number } };
    expect(info.identity).toBe(hex(identityOf(1).publicKey));
    expect(info.epochKeys).toEqual([expect.objectContaining({ epoch: view.epoch, publicKey: hex(view.keys.publicKey) })]);
    expect(info.announcement).toMatchObject({ epoch: view.epoch, version: view.snapshot.version, count: view.snapshot.count });
    const text = await run(['directory', 'info', '--db', r.db]);
    expect(text.stdout).toContain(`--pin-identity ${hex(identityOf(1).publicKey)}`);
  });
});
