/**
 * Red team, wave 5: the import checks rows of batches still in flight through the stage's
 * fingerprint table (ImportStage.accept), so a kill -9 now leaves rows that were accepted
 * (seen) but never committed. A file whose duplicate user ids and taken identifiers point
 * back across batch borders (into the batch in flight, the one before, and committed ones),
 * killed after its k-th committed batch and run again, must end exactly as an uninterrupted
 * import: the same snapshot digest, the same refused rows with the same reasons, every
 * tag computed once (computed + staged = all).
 */
import fc from 'fast-check';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

const cli = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'contact-psi-rt5-resume-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const USERS = 600;
const BATCH_ROWS = 50;
const BATCHES = USERS / BATCH_ROWS;
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: work, timeout: 300_000 });
const digestOf = (stdout: string): string => /digest ([0-9a-f]{64})/.exec(stdout)?.[1] ?? `no digest in ${JSON.stringify(stdout)}`;
const refusals = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('users.csv: row ')).sort();

function copyBase(name: string): string {
  for (const f of readdirSync(work)) if (f.startsWith(`${name}.db`)) rmSync(join(work, f), { force: true });
  for (const f of readdirSync(work)) if (f.startsWith('base.db') && !f.endsWith('.lock')) copyFileSync(join(work, f), join(work, f.replace('base.db', `${name}.db`)));
  return `${name}.db`;
}

let reference = { digest: '', refused: [] as string[], tags: 0 };

beforeAll(() => {
  const rows = ['user_id,phones,emails,label,discoverable'];
  for (let i = 0; i < USERS; i++) {
    // Back-references of 60, 45 and 30 rows: into the previous batch, the one before, or this one.
    const user = i % 7 === 6 && i >= 60 ? `u${i - 60}` : `u${i}`;
    const phone = i % 11 === 10 && i >= 45 ? `+4179${String(i - 45).padStart(7, '0')}` : `+4179${String(i).padStart(7, '0')}`;
    let email = i % 5 < 2 ? `u${i}@example.org` : '';
    if (i % 13 === 12 && i >= 30 && (i - 30) % 5 < 2) email = `u${i - 30}@example.org`;
    rows.push(`${user},${phone},${email},pk-${i},${i % 17 === 3 ? 'false' : ''}`);
  }
  writeFileSync(join(work, 'users.csv'), `${rows.join('\n')}\n`);
  writeFileSync(join(work, 'empty.csv'), 'user_id,phones,emails,label,discoverable\n');
  const base = run('directory', 'import', 'empty.csv', '--db', 'base.db');
  expect(base.status, base.stderr).toBe(0);
  const whole = run('directory', 'import', 'users.csv', '--db', copyBase('ref'), '--batch-rows', String(BATCH_ROWS));
  expect(whole.status, whole.stderr).toBe(0);
  const tags = /tags: (\d+) computed/.exec(whole.stdout);
  reference = { digest: digestOf(whole.stdout), refused: refusals(whole.stderr), tags: Number(tags?.[1]) };
  expect(reference.refused.length).toBeGreaterThan(50); // the file does exercise the duplicate checks
}, 300_000);

function importKilledAfter(db: string, k: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'directory', 'import', 'users.csv', '--db', db, '--batch-rows', String(BATCH_ROWS), '--log-batches'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = 0;
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      for (const m of d.matchAll(/import: batch (\d+) committed/g)) seen = Math.max(seen, Number(m[1]));
      if (seen >= k && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(seen) : reject(new Error(`import ended (${code}) before batch ${k}`))));
  });
}

it('kill -9 after any batch, then a re-run: the uninterrupted digest, refusals and tag count', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: BATCHES - 2 }), async (k) => {
      const db = copyBase(`kill${k}`);
      await importKilledAfter(db, k);
      const again = run('directory', 'import', 'users.csv', '--db', db, '--batch-rows', String(BATCH_ROWS));
      expect(again.status, again.stderr).toBe(0);
      expect(digestOf(again.stdout)).toBe(reference.digest);
      expect(refusals(again.stderr)).toEqual(reference.refused);
      const m = /tags: (\d+) computed, (\d+) staged by an earlier run/.exec(again.stdout);
      expect(m, again.stdout).not.toBeNull();
      expect(Number(m![1]) + Number(m![2])).toBe(reference.tags);
    }),
    { numRuns: 3, seed: 5 },
  );
}, 600_000);
