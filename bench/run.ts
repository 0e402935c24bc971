/**
 * `npm run bench -- <scenario> [--smoke]`: runs a scenario and writes JSON and a Markdown
 * table into bench/results/. `--smoke` runs tiny sizes (CI uses it so the code cannot rot).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { microEncodings, microOprf } from './micro.js';
import { writeReport, type Row } from './report.js';
import { sessionPsi } from './session-psi.js';

const here = dirname(fileURLToPath(import.meta.url));
// Compiled to dist/bench/run.js; results go to the source tree's bench/results.
const resultsDir = process.env.BENCH_RESULTS ?? join(here, '..', '..', 'bench', 'results');

type Scenario = (smoke: boolean) => Promise<void>;

const scenarios: Record<string, Scenario> = {
  async micro(smoke) {
    const scale = smoke ? 0.05 : 1;
    writeReport(resultsDir, smoke ? 'micro-smoke' : 'micro', 'Micro-benchmark: µs per element', await microOprf(scale));
    writeReport(resultsDir, smoke ? 'encodings-smoke' : 'encodings', 'Set encodings: build and lookup', microEncodings(scale));
  },
  async 'session-psi'(smoke) {
    const rows: Row[] = [];
    const cases = smoke
      ? [{ clientSize: 50, serverSize: 200 }]
      : [
          { clientSize: 1000, serverSize: 10_000 },
          { clientSize: 1000, serverSize: 100_000 },
        ];
    for (const c of cases) {
      for (const encoding of ['raw', 'gcs', 'fuse'] as const) {
        rows.push(await sessionPsi({ ...c, encoding, backend: 'auto' }));
        console.log(JSON.stringify(rows.at(-1)));
      }
    }
    writeReport(resultsDir, smoke ? 'session-psi-smoke' : 'session-psi', 'Session PSI: wall time per phase and bytes each way', rows);
  },
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const smoke = args.includes('--smoke');
  const names = args.filter((a) => !a.startsWith('--'));
  const selected = names.length > 0 ? names : ['micro', 'session-psi'];
  for (const name of selected) {
    const run = scenarios[name];
    if (!run) throw new Error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`);
    await run(smoke);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
