/**
 * `directory import` killed with SIGKILL after its k-th committed batch (k drawn by
 * fast-check; the kill waits for the batch's line on stderr, no sleep), then run again with
 * the same file: the second run computes only the tags the first did not commit (its report
 * says how many it computed and how many the stage held) and ends with the snapshot digest
 * of an import that was never interrupted (same key: both start from one keyed directory).
 */
import fc from 'fast-check';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

const cli = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'contact-psi-import-resume-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const USERS = 1200;
const BATCH_ROWS = 100;
const BATCHES = USERS / BATCH_ROWS;
// Every user a Swiss mobile number, every 5th and 5th+1 also an address: 1.4 identifiers each.
const IDENTIFIERS = USERS + Math.ceil((USERS * 2) / 5);

const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: work, timeout: 300_000 });

/** Copies the keyed empty directory `base.db` (and its key files) to `<name>.db`. */
function copyBase(name: string): string {
  for (const f of readdirSync(work)) if (f.startsWith(`${name}.db`)) rmSync(join(work, f), { force: true });
  for (const f of readdirSync(work)) if (f.startsWith('base.db') && !f.endsWith('.lock')) copyFileSync(join(work, f), join(work, f.replace('base.db', `${name}.db`)));
  return `${name}.db`;
}

const digestOf = (stdout: string): string => /digest ([0-9a-f]{64})/.exec(stdout)?.[1] ?? `no digest in ${JSON.stringify(stdout)}`;

let reference = '';

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build`);
  const rows = ['user_id,phones,emails,label,discoverable'];
  for (let i = 0; i < USERS; i++) rows.push(`u${i},+4179${String(i).padStart(7, '0')},${i % 5 < 2 ? `u${i}@example.org` : ''},pk-${i},`);
  writeFileSync(join(work, 'users.csv'), `${rows.join('\n')}\n`);
  writeFileSync(join(work, 'empty.csv'), 'user_id,phones,emails,label,discoverable\n');
  const base = run('directory', 'import', 'empty.csv', '--db', 'base.db');
  expect(base.status, base.stderr).toBe(0);
  const whole = run('directory', 'import', 'users.csv', '--db', copyBase('ref'), '--batch-rows', String(BATCH_ROWS));
  expect(whole.status, whole.stderr).toBe(0);
  expect(whole.stdout).toContain(`tags: ${IDENTIFIERS} computed, 0 pruned`);
  reference = digestOf(whole.stdout);
}, 300_000);

/** Starts the import and kills it (SIGKILL) once batch `k` is reported committed; resolves with the last batch seen. */
function importKilledAfter(db: string, k: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'directory', 'import', 'users.csv', '--db', db, '--batch-rows', String(BATCH_ROWS), '--log-batches'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = 0;
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      for (const m of d.matchAll(/import: batch (\d+) committed/g)) seen = Math.max(seen, Number(m[1]));
      if (seen >= k && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`import ended (${code}) before batch ${k}: ${err.slice(-500)}`));
      else resolve(seen);
    });
  });
}

it('a re-run after kill -9 computes only the uncommitted tags and ends with the uninterrupted directory', async () => {
  const points: number[] = [];
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: BATCHES - 1 }), async (k) => {
      points.push(k);
      const db = copyBase(`kill${k}`);
      const seen = await importKilledAfter(db, k);
      expect(seen).toBeGreaterThanOrEqual(k);
      expect(existsSync(join(work, `${db}.import`))).toBe(true); // the stage survived the kill
      const again = run('directory', 'import', 'users.csv', '--db', db, '--batch-rows', String(BATCH_ROWS));
      expect(again.status, again.stderr).toBe(0);
      const m = /tags: (\d+) computed, (\d+) staged by an earlier run/.exec(again.stdout);
      expect(m, again.stdout).not.toBeNull();
      const [computed, staged] = [Number(m![1]), Number(m![2])];
      // At least the k committed batches were kept (about 1.4 tags per row), and nothing twice.
      expect(staged).toBeGreaterThanOrEqual(k * BATCH_ROWS);
      expect(computed + staged).toBe(IDENTIFIERS);
      expect(digestOf(again.stdout)).toBe(reference);
      expect(existsSync(join(work, `${db}.import`))).toBe(false); // applied: the stage is gone
    }),
    { numRuns: 3, seed: 13 },
  );
  expect(new Set(points).size).toBeGreaterThan(1);
}, 600_000);
