/**
 * `npm run bench -- <scenario ...> [--smoke] [options]`: runs scenarios and writes
 * <results>/<scenario>.{json,md} (and .svg where a size sweeps) into bench/results/.
 * `--smoke` runs every named scenario (all of them when none is named) at tiny sizes in
 * well under a minute and writes to a fresh temp dir, so CI never dirties the tree.
 * See bench/README.md for the scenarios and their options.
 */
import { EncodingKinds, type EncodingKind } from '../src/setenc/index.js';
import { discoverySyncScenario } from './discovery-sync.js';
import { labelWireScenario } from './label-wire.js';
import { hostileScenario } from './hostile.js';
import { memoryScenario } from './memory.js';
import { ensureFixture } from './child-process.js';
import { markScenarioStart } from './machine.js';
import { round } from './timing.js';
import { microEncodings, microMsm, microOprf } from './micro.js';
import { resultsDir } from './paths.js';
import { precomputeScenario } from './precompute.js';
import { writeReport, type Report } from './report.js';
import { sessionPsiGrid } from './session-psi.js';
import { targetsScenario } from './targets.js';
import { throughputScenario } from './throughput.js';
import { scaleScenario, type ImportedDirectory } from './scale.js';
import { importScenario } from './import.js';
import { resyncScenario } from './resync.js';
import { peersScenario } from './peers.js';
import { modelScenario } from './model.js';
import { fleetScenario } from './fleet.js';
import { startupScenario } from './startup.js';
import { fuseBuildScenario } from './fuse-build.js';

interface Options {
  smoke: boolean;
  pool: boolean;
  get(name: string): string | undefined;
  list(name: string, fallback: readonly number[]): number[];
  number(name: string, fallback: number): number;
}

const SCENARIOS: Record<string, { help: string; run(o: Options): Promise<Report | Report[]> }> = {
  micro: {
    help: 'µs per operation per backend, native libsodium floor, the peer per element, set encodings',
    async run(o) {
      const scale = o.smoke ? 0.05 : o.number('scale', 1);
      const oprf = await microOprf(scale, o.pool);
      const msm = await microMsm(o.list('msm-sizes', o.smoke ? [64, 1024] : [64, 1024, 16_384]), o.smoke ? 1 : 3);
      return {
        name: 'micro',
        title: 'Micro-benchmark: µs per element',
        smoke: o.smoke,
        parameters: { scale, pool: o.pool },
        notes: [...oprf.notes, ...msm.notes],
        data: { hashMultiply: oprf.hashMultiply, native: oprf.native, msm: msm.rows },
        sections: [
          { title: 'Group and OPRF operations', rows: oprf.rows },
          { title: 'Ours vs the native floor (interleaved runs, best of 5 each)', rows: oprf.comparison, notes: oprf.native.ok ? [] : [oprf.native.reason] },
          { title: 'Multi-scalar multiplication (DLEQ composites): WASM MSM vs one libsodium multiply + add per element (interleaved)', rows: msm.rows },
          { title: 'Set encodings: build and lookup', rows: microEncodings(scale) },
        ],
      };
    },
  },
  'session-psi': {
    help: 'client {1k,10k,100k} x server {10k,100k,1M}, ours and @openmined/psi.js  [--clients= --servers= --encodings=fuse,gcs --peer-max=100000]',
    run: (o) =>
      sessionPsiGrid({
        clientSizes: o.list('clients', o.smoke ? [20, 100] : [1000, 10_000, 100_000]),
        serverSizes: o.list('servers', o.smoke ? [200, 1000] : [10_000, 100_000, 1_000_000]),
        encodings: (o.get('encodings')?.split(',') ?? ['fuse', 'gcs']).map((e) => {
          if (!(EncodingKinds as readonly string[]).includes(e)) throw new Error(`unknown encoding ${e}`);
          return e as EncodingKind;
        }),
        backend: 'auto',
        peerMax: o.number('peer-max', o.smoke ? 1000 : 100_000),
        peerStructure: 'GCS',
        smoke: o.smoke,
        pool: o.pool,
      }),
  },
  precompute: {
    help: 'import + tags + snapshot for 100k and 1M users, memory and SQLite stores  [--sizes= --stores=memory,sqlite]',
    run: (o) =>
      precomputeScenario(
        o.list('sizes', o.smoke ? [1000] : [100_000, 1_000_000]),
        (o.get('stores')?.split(',') ?? ['memory', 'sqlite']) as ('memory' | 'sqlite')[],
        o.smoke,
        o.pool,
      ),
  },
  'discovery-sync': {
    help: 'syncAddressBook over loopback WebSocket, 1,024 and 10,000 contacts vs a 1M directory, cached/downloaded  [--directory= --contacts= --reps=]',
    run: (o) =>
      discoverySyncScenario({
        directoryUsers: o.number('directory', o.smoke ? 1000 : 1_000_000),
        contactSizes: o.list('contacts', o.smoke ? [32] : [1024, 10_000]),
        reps: o.number('reps', o.smoke ? 1 : 3),
        registeredShare: 0.25,
        smoke: o.smoke,
        pool: o.pool,
      }),
  },
  'label-wire': {
    help: 'wire bytes per contact of a first sync with the snapshot cached, by message type, real sessions over a signed directory in memory, user ids as in 10^4, 10^6, 10^8 users (issue 13: <= 80)  [--users= --contacts= --shapes=]',
    run: (o) =>
      labelWireScenario({
        users: o.number('users', o.smoke ? 400 : 20_000),
        contacts: o.number('contacts', o.smoke ? 200 : 10_000),
        shapes: o.list('shapes', o.smoke ? [10_000] : [10_000, 1_000_000, 100_000_000]),
        registeredShare: 0.25,
        chunkItems: 1024,
        smoke: o.smoke,
      }),
  },
  throughput: {
    help: 'contacts evaluated per second with 1, 8 and 64 concurrent clients  [--directory= --clients= --seconds= --contacts=]',
    run: (o) =>
      throughputScenario({
        directoryUsers: o.number('directory', o.smoke ? 1000 : 1_000_000),
        concurrency: o.list('clients', [1, 8, 64]),
        contactsPerSession: o.number('contacts', o.smoke ? 32 : 1024),
        seconds: o.number('seconds', o.smoke ? 0.3 : 10),
        smoke: o.smoke,
        pool: o.pool,
      }),
  },
  hostile: {
    help: 'legitimate syncs, quiet and while hostile clients send big frames, flood, trickle and pipeline; server peak RSS, CPU, p50/p99  [--directory= --contacts= --seconds= --syncs=]',
    run: (o) =>
      hostileScenario({
        directoryUsers: o.number('directory', o.smoke ? 1000 : 100_000),
        contacts: o.number('contacts', o.smoke ? 16 : 256),
        quietSyncs: o.number('syncs', o.smoke ? 3 : 20),
        seconds: o.number('seconds', o.smoke ? 3 : 75),
        bigFrameConnections: o.smoke ? 4 : 40,
        bigFrameBytes: o.smoke ? 1024 * 1024 : 8 * 1024 * 1024,
        floodConnections: o.smoke ? 20 : 600,
        slowlorisConnections: o.smoke ? 5 : 50,
        pipelineConnections: o.smoke ? 2 : 10,
        pipelinedRequests: o.smoke ? 20 : 200,
        smoke: o.smoke,
      }),
  },
  fleet: {
    help: 'contacts/s with 1, 2 and 3 serve processes on an embedded PostgreSQL (CPU-normalised); a change reaching every node at 100k and 1M users; sync latency PostgreSQL vs SQLite against 1M users  [--users= --nodes= --clients= --seconds= --change-users= --change-reps= --sync-users= --sync-contacts= --sync-reps=; --timeline: the change only, step by step, --timeline-baseline=<another build: dist/bench/fleet-timeline-node.js> --timeline-rounds=]',
    run: (o) =>
      fleetScenario({
        throughputUsers: o.number('users', o.smoke ? 1000 : 100_000),
        nodes: o.list('nodes', o.smoke ? [1, 2] : [1, 2, 3]),
        clients: o.number('clients', o.smoke ? 2 : 6),
        contactsPerSession: o.number('contacts', o.smoke ? 32 : 1024),
        seconds: o.number('seconds', o.smoke ? 1 : 10),
        changeUsers: o.list('change-users', o.smoke ? [1000] : [100_000, 1_000_000]),
        changeReps: o.number('change-reps', o.smoke ? 1 : 5),
        syncUsers: o.number('sync-users', o.smoke ? 1000 : 1_000_000),
        syncContacts: o.list('sync-contacts', o.smoke ? [32] : [1024, 10_000]),
        syncReps: o.number('sync-reps', o.smoke ? 1 : 3),
        smoke: o.smoke,
        timeline: o.get('timeline') !== undefined,
        timelineBaseline: o.get('timeline-baseline'),
        timelineRounds: o.number('timeline-rounds', 1),
      }),
  },
  memory: {
    help: 'peak RSS of the server for a directory of 1M and 10M tags (10M: run by hand, builds for a long time)  [--sizes=]',
    run: (o) => memoryScenario(o.list('sizes', o.smoke ? [10_000] : [1_000_000, 10_000_000]), o.smoke, o.smoke ? 64 : 4096),
  },
  fixtures: {
    help: 'build (or reuse) the cached SQLite directories the server scenarios serve, e.g. --sizes=10000000 ahead of `memory`  [--sizes= --pool]',
    async run(o) {
      const rows = [];
      for (const users of o.list('sizes', o.smoke ? [1000] : [1_000_000])) {
        const m = await ensureFixture(users, o.smoke, o.pool);
        rows.push({
          users: m.users,
          path: m.path,
          built: m.builtAt,
          'import s': round(m.importMs / 1000),
          'precompute s': round(m.precomputeMs / 1000),
          'snapshot s': round(m.snapshotMs / 1000),
          'snapshot MiB': round(m.snapshotBytes / 2 ** 20),
          'build peak RSS MiB': round(m.buildMaxRssMiB),
          threads: m.poolSize ? `pool of ${m.poolSize}` : 'main thread',
        });
      }
      return { name: 'fixtures', title: 'Cached directory fixtures', smoke: o.smoke, sections: [{ title: 'Fixtures', rows }] };
    },
  },
  resync: {
    help: 'incremental re-sync (issue 10 §4): whole `contact-psi sync` processes, unchanged book vs today\'s path, +10 contacts  [--users=1000000 --contacts=1024 --added=10 --reps=5]',
    run: (o) =>
      resyncScenario({
        users: o.number('users', o.smoke ? 1000 : 1_000_000),
        contacts: o.number('contacts', o.smoke ? 64 : 1024),
        added: o.number('added', 10),
        reps: o.number('reps', o.smoke ? 1 : 5),
        smoke: o.smoke,
      }),
  },
  import: {
    help: '`directory import` of one generated CSV into SQLite and into PostgreSQL (embedded) in the same run: wall, CPU, peak RSS, load; 10M extrapolated; psi.js setup per element after  [--users=1000000 --no-postgres --peer-elements=10000]',
    run: (o) =>
      importScenario({
        users: o.number('users', o.smoke ? 2000 : 1_000_000),
        postgres: o.get('no-postgres') === undefined,
        peerElements: o.number('peer-elements', o.smoke ? 200 : 10_000),
        smoke: o.smoke,
      }),
  },
  scale: {
    help: 'directory sizes 10^4, 10^5, 10^6 (10^7 with --max 7; 10^8 by model): CLI import, snapshot, first sync and re-sync of 1,024 and 10,000 contacts, server CPU  [--max= --sizes= --contacts= --reps= --pool --imported=<users>:<sqlite>:<import.json>]',
    run: (o) => {
      const max = o.number('max', 6);
      if (max > 8) throw new Error('--max is at most 8 (10^8 users)');
      const sizes = o.list('sizes', o.smoke ? [1000] : [4, 5, 6, 7].filter((e) => e <= max).map((e) => 10 ** e));
      return scaleScenario({
        sizes,
        modelSizes: o.smoke ? [10_000] : [10_000_000, 100_000_000],
        contactSizes: o.list('contacts', o.smoke ? [16, 64] : [1024, 10_000]),
        reps: o.number('reps', 1),
        peerElements: o.number('peer-elements', o.smoke ? 200 : 10_000),
        loadSeconds: o.number('seconds', o.smoke ? 0.3 : 5),
        startupRuns: o.number('startup-runs', o.smoke ? 1 : 5),
        smoke: o.smoke,
        pool: o.pool,
        imported: parseImported(o.get('imported')),
      });
    },
  },
  startup: {
    help: 'whole-process `contact-psi sync` start-up to the first byte (goal 150 ms), snapshot of a 1M directory cached: node -e 0, the eager CLI, the unbundled CLI and the bin, interleaved  [--users=1000000 --contacts=1024 --runs=7]',
    run: (o) =>
      startupScenario({
        users: o.number('users', o.smoke ? 1000 : 1_000_000),
        contacts: o.number('contacts', o.smoke ? 64 : 1024),
        runs: o.number('runs', o.smoke ? 1 : 7),
        smoke: o.smoke,
      }),
  },
  peers: {
    help: 'per element blind / evaluate (+proof) / finalize: ours vs @cloudflare/voprf-ts (ristretto255-SHA512, VOPRF), same batches, same run; @openmined/psi.js setup per element  [--batches=]',
    run: (o) => peersScenario({ batches: o.list('batches', o.smoke ? [4, 32] : [1, 16, 256]), smoke: o.smoke }),
  },
  model: {
    help: 'cost model from bench/results/*.json: server CPU-hours, bandwidth, storage per day at 10^7 and 10^8 users, with and without incremental sync  [--contacts=300 --new=2 --churn=0.001]',
    run: async (o) => modelScenario({ dir: resultsDir(o.smoke), contacts: o.number('contacts', 300), newPerDay: o.number('new', 2), churn: o.number('churn', 0.001), smoke: o.smoke }),
  },
  'fuse-build': {
    help: 'fuse filter construction, the lean builder vs the old one in the same run: ns per key at 10^5 and 10^6 keys, peak extra RSS per key at 4*10^6  [--sizes= --memory-sizes= --reps=]',
    run: (o) => fuseBuildScenario({ timeSizes: o.list('sizes', o.smoke ? [2000] : [100_000, 1_000_000]), memorySizes: o.list('memory-sizes', o.smoke ? [5000] : [4_000_000]), reps: o.number('reps', o.smoke ? 1 : 5), smoke: o.smoke }),
  },
  targets: {
    help: "the issue's targets from the latest result files: measured, goal, ratio, pass/fail",
    run: async (o) => targetsScenario(resultsDir(o.smoke), o.smoke),
  },
};

/** `--imported=10000000:/tmp/d.sqlite:/tmp/r/import.json[,...]`: directories a `bench -- import` run built. */
function parseImported(value: string | undefined): Map<number, ImportedDirectory> | undefined {
  if (value === undefined) return undefined;
  const out = new Map<number, ImportedDirectory>();
  for (const item of value.split(',')) {
    const [users, db, importJson] = item.split(':');
    if (!/^\d+$/.test(users ?? '') || !db || !importJson) throw new Error(`--imported: expected <users>:<sqlite file>:<import.json>, got ${item}`);
    out.set(Number(users), { db, importJson });
  }
  return out;
}

const ORDER = ['micro', 'peers', 'session-psi', 'precompute', 'discovery-sync', 'label-wire', 'throughput', 'hostile', 'memory', 'scale', 'startup', 'resync', 'fuse-build', 'model', 'targets'];

function usage(): string {
  return [
    'usage: npm run bench -- <scenario ...|all> [--smoke] [--pool] [--name=value ...]',
    '',
    ...ORDER.map((n) => `  ${n.padEnd(15)} ${SCENARIOS[n].help}`),
    '',
    '  --smoke   tiny sizes, every scenario when none is named, results in a temp dir',
    '  --pool    use the worker pool of src/parallel where a scenario can',
    '  results:  bench/results/ (or $BENCH_RESULTS); directory fixtures: $BENCH_CACHE or <tmp>/contact-psi-bench-cache',
  ].join('\n');
}

function parseOptions(args: string[]): { names: string[]; options: Options } {
  const flags = new Map<string, string>();
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    // `--max 7` as well as `--max=7`: a bare flag followed by a number takes it as its value.
    if (a.startsWith('--') && !a.includes('=') && /^[0-9][0-9_.]*[kM]?$/.test(args[i + 1] ?? '')) {
      flags.set(a.slice(2), args[++i]);
      continue;
    }
    if (!a.startsWith('--')) names.push(a);
    else {
      const [k, v] = a.slice(2).split('=', 2);
      flags.set(k, v ?? 'true');
    }
  }
  const parseNumber = (s: string) => {
    const n = Number(s.replace(/_/g, '').replace(/k$/i, '000').replace(/M$/, '000000'));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${s}`);
    return n;
  };
  const options: Options = {
    smoke: flags.has('smoke'),
    pool: flags.has('pool'),
    get: (name) => flags.get(name),
    list: (name, fallback) => (flags.has(name) ? flags.get(name)!.split(',').map(parseNumber) : [...fallback]),
    number: (name, fallback) => (flags.has(name) ? parseNumber(flags.get(name)!) : fallback),
  };
  return { names, options };
}

async function main(): Promise<void> {
  const { names, options } = parseOptions(process.argv.slice(2));
  if (options.get('no-analyze')) process.env.BENCH_NO_ANALYZE = '1';
  if (names.includes('help') || (names.length === 0 && !options.smoke)) {
    console.log(usage());
    return;
  }
  const selected = names.length === 0 || names.includes('all') ? ORDER : names;
  for (const name of selected) if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}\n\n${usage()}`);
  const dir = resultsDir(options.smoke);
  const started = performance.now();
  for (const name of selected) {
    const t = performance.now();
    markScenarioStart();
    const reports = await SCENARIOS[name].run(options);
    for (const r of Array.isArray(reports) ? reports : [reports]) writeReport(dir, r);
    console.log(`${name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  console.log(`results in ${dir} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
