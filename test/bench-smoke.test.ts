/**
 * CI runs every benchmark scenario at smoke size, so the benchmark code cannot rot. The
 * figures are not checked (timing in CI means nothing); only that every scenario runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const runner = join(import.meta.dirname, '..', 'dist', 'bench', 'run.js');

describe('benchmark harness', () => {
  it('every scenario runs at smoke size', () => {
    expect(existsSync(runner), `${runner} is missing: run npm run build`).toBe(true);
    const res = spawnSync(process.execPath, [runner, '--smoke'], { encoding: 'utf8', timeout: 600_000 });
    expect(res.status, `${res.stdout.slice(-2000)}\n${res.stderr.slice(-2000)}`).toBe(0);
    expect(res.stdout).toMatch(/results in /);
    // The issue-13 scenarios ran at their tiny sizes: a scale sweep (CLI import, syncs,
    // start-up, the model rows), the peers table (voprf-ts only where installed), the model.
    expect(res.stdout).toMatch(/wrote .*scale\.\{json,md,svg\}/);
    expect(res.stdout).toMatch(/wrote .*peers\.\{json,md\}/);
    expect(res.stdout).toMatch(/wrote .*model\.\{json,md\}/);
  }, 660_000);

  it('the hostile scenario runs at smoke size: legitimate syncs complete while attacked, figures reported', () => {
    const res = spawnSync(process.execPath, [runner, 'hostile', '--smoke'], { encoding: 'utf8', timeout: 300_000 });
    expect(res.status, `${res.stdout.slice(-2000)}\n${res.stderr.slice(-2000)}`).toBe(0);
    expect(res.stdout).toMatch(/Legitimate syncs/);
    expect(res.stdout).toMatch(/\| under attack \| \d+ \| 0 \|/); // no legitimate sync failed
    expect(res.stdout).toMatch(/peak RSS MiB/);
  }, 330_000);

  it('the scenarios with worker pools run at smoke size', () => {
    const res = spawnSync(process.execPath, [runner, 'discovery-sync', 'throughput', 'session-psi', '--smoke', '--pool'], { encoding: 'utf8', timeout: 600_000 });
    expect(res.status, `${res.stdout.slice(-2000)}\n${res.stderr.slice(-2000)}`).toBe(0);
    expect(res.stdout).toMatch(/discovery-sync-pool/);
    expect(res.stdout).toMatch(/throughput-pool/);
    expect(res.stdout).toMatch(/session-psi-pool/);
  }, 660_000);
});
