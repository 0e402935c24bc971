/**
 * The arithmetic of `bench -- model` and the input `bench -- scale` feeds the real import:
 * - per-contact costs are linear in the directory size (what every client downloads grows
 *   faster: the snapshot, the delta), and incremental sync never costs more than
 *   re-evaluating every contact with a delta, which never costs more than re-downloading
 *   the snapshot (for any measured inputs, any contacts >= new contacts);
 * - the directory CSV that scale writes parses with the real directory-file parser, with
 *   no rejected row, one user per line and exactly the identifiers it counted (1.4 each
 *   on average: every user a phone, 2 in 5 also an e-mail).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { modelScenario } from '../bench/model.js';
import { writeDirectoryCsv } from '../bench/scale.js';
import { parseDirectoryFile } from '../src/directory/index.js';

/** A scale.json with the figures the model reads, at one directory size and two book sizes. */
function scaleFile(dir: string, f: { cpuA: number; cpuB: number; bytesA: number; bytesB: number; snapBytes: number; snapCpu: number; base: number }): void {
  const { base } = f;
  const data: Record<string, number> = {
    [`${base}/snapshotBytes`]: f.snapBytes,
    [`${base}/snapshotEntries`]: base * 1.4,
    [`${base}/dbBytes`]: base * 380,
    [`${base}/1024/cached-new/serverCpuMs`]: f.cpuA,
    [`${base}/10000/cached-new/serverCpuMs`]: f.cpuB,
    [`${base}/1024/cached-new/bytes`]: f.bytesA,
    [`${base}/10000/cached-new/bytes`]: f.bytesB,
    [`${base}/10000/first/serverCpuMs`]: f.cpuB + f.snapCpu,
    [`${base}/10000/first/snapshotBytes`]: f.snapBytes,
  };
  writeFileSync(join(dir, 'scale.json'), JSON.stringify({ machine: { date: 'test', cpu: 'test' }, parameters: { sizes: [base], contactSizes: [1024, 10000] }, data }));
}

const inputs = fc.record({
  cpuA: fc.double({ min: 1, max: 1e4, noNaN: true }),
  cpuPerContact: fc.double({ min: 0.001, max: 10, noNaN: true }),
  bytesA: fc.integer({ min: 1000, max: 1e7 }),
  bytesPerContact: fc.double({ min: 1, max: 1000, noNaN: true }),
  snapBytes: fc.integer({ min: 1, max: 1e9 }),
  snapCpu: fc.double({ min: 0, max: 1e5, noNaN: true }),
  contacts: fc.integer({ min: 1, max: 5000 }),
  newPerDay: fc.integer({ min: 0, max: 50 }),
  churn: fc.double({ min: 0, max: 0.1, noNaN: true }),
});

describe('bench model', () => {
  it('per-contact costs linear in users; incremental <= delta <= snapshot re-download', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-model-'));
    try {
      fc.assert(
        fc.property(inputs, (x) => {
          fc.pre(x.newPerDay <= x.contacts);
          scaleFile(dir, {
            base: 1_000_000,
            cpuA: x.cpuA,
            cpuB: x.cpuA + x.cpuPerContact * (10000 - 1024),
            bytesA: x.bytesA,
            bytesB: x.bytesA + x.bytesPerContact * (10000 - 1024),
            snapBytes: x.snapBytes,
            snapCpu: x.snapCpu,
          });
          const r = modelScenario({ dir, contacts: x.contacts, newPerDay: x.newPerDay, churn: x.churn, users: [1e7, 2e7], smoke: true });
          const d = r.data as Record<string, number>;
          // Per-contact costs are linear in users; what every client downloads (snapshot,
          // delta at churn > 0) grows with the directory too, so those totals grow faster.
          for (const way of ['incremental', 'delta', 'snapshot']) {
            for (const m of ['cpuHoursPerDay', 'bytesPerDay']) {
              const [one, two] = [d[`10000000/${way}/${m}`], d[`20000000/${way}/${m}`]];
              if (way === 'snapshot' || x.churn > 0) expect(two).toBeGreaterThanOrEqual(2 * one * (1 - 1e-12));
              // Nothing new and nothing changed: incremental costs nothing at either size.
              else if (one === 0) expect(two).toBe(0);
              else expect(two / one).toBeCloseTo(2, 9);
            }
          }
          for (const m of ['cpuHoursPerDay', 'bytesPerDay']) {
            expect(d[`10000000/incremental/${m}`]).toBeLessThanOrEqual(d[`10000000/delta/${m}`] * (1 + 1e-12));
          }
          expect(d['10000000/delta/cpuHoursPerDay']).toBeLessThanOrEqual(d['10000000/snapshot/cpuHoursPerDay'] * (1 + 1e-12));
          // The fit recovers the per-contact slope it was given.
          expect(d.cpu1).toBeCloseTo(x.cpuPerContact, 6);
        }),
        { numRuns: 60 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without scale.json, says to run scale first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-model-'));
    try {
      const r = modelScenario({ dir, contacts: 300, newPerDay: 2, smoke: true });
      expect(r.sections).toHaveLength(0);
      expect(r.notes?.join(' ')).toMatch(/run `npm run bench -- scale` first/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench scale: the directory CSV', () => {
  it('parses with the real parser: every row a user, the counted identifiers, no rejection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-csv-'));
    try {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 300 }), async (users) => {
          const path = join(dir, 'd.csv');
          const counted = await writeDirectoryCsv(path, users);
          const parsed = parseDirectoryFile(readFileSync(path, 'utf8'));
          expect(parsed.errors).toEqual([]);
          expect(parsed.users).toHaveLength(users);
          expect(parsed.users.reduce((n, u) => n + u.identifiers.length, 0)).toBe(counted);
          let expected = 0;
          for (let i = 0; i < users; i++) expected += i % 5 < 2 ? 2 : 1;
          expect(counted).toBe(expected);
          expect(parsed.users.every((u) => u.label?.length === 32)).toBe(true);
        }),
        { numRuns: 15 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
