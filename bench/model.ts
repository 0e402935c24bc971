/**
 * `bench -- model`: what a directory of 10^7 and 10^8 users costs the operator per day,
 * from figures measured by `scale` (bench/results/scale.json, its largest measured size):
 * every client holds C contacts (300), adds A new ones a day (2) and syncs once a day.
 *
 * Per-sync costs are fitted as fixed + per-contact from the two address-book sizes
 * `scale` measured (1,024 and 10,000 contacts, "new contacts, snapshot cached": every
 * contact evaluated, labels of the 25% matches sealed and sent):
 *   server CPU ms = cpu0 + cpu1 * n,   bytes = b0 + b1 * n.
 *
 * Three ways to sync daily:
 *  - today, snapshot re-downloaded: every contact evaluated, and the whole snapshot
 *    fetched again because the directory changed (a client that cannot apply a delta);
 *  - today, with deltas: every contact evaluated again, the day's delta applied;
 *  - incremental sync (modelled from the protocol, not measured: another change is
 *    building it): only the A new contacts are evaluated (0 evaluations for unchanged
 *    contacts), plus the delta at 8 bytes per changed directory entry, plus the fixed
 *    session cost.
 * The directory's daily churn (entries added or removed a day) is an assumption
 * (`--churn`, default 0.1% of the entries), stated in the output.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Report, Row } from './report.js';
import { round } from './timing.js';

export interface ModelOptions {
  /** Where scale.json is read (bench/results/, or a smoke run's folder). */
  dir: string;
  contacts: number;
  newPerDay: number;
  /** Share of directory entries changed per day (assumed). */
  churn?: number;
  users?: readonly number[];
  smoke: boolean;
}

const DELTA_BYTES_PER_ENTRY = 8;
const IDENTIFIERS_PER_USER = 1.4;

interface ScaleFile {
  machine: { date: string; cpu: string; loadAverage?: number[] };
  parameters: { sizes: number[]; contactSizes: number[]; pool?: boolean };
  data: Record<string, number>;
}

/** Line through two points: [intercept, slope]. */
function fit(x1: number, y1: number, x2: number, y2: number): [number, number] {
  const slope = (y2 - y1) / (x2 - x1);
  return [Math.max(0, y1 - slope * x1), slope];
}

const gb = (bytes: number) => round(bytes / 1e9, 3);

export function modelScenario(o: ModelOptions): Report {
  const path = join(o.dir, 'scale.json');
  const churn = o.churn ?? 0.001;
  const usersList = o.users ?? (o.smoke ? [10_000, 100_000] : [10_000_000, 100_000_000]);
  if (!existsSync(path)) {
    return {
      name: 'model',
      title: 'Cost model: no input',
      smoke: o.smoke,
      notes: [`${path} is missing: run \`npm run bench -- scale\` first.`],
      sections: [],
    };
  }
  const scale = JSON.parse(readFileSync(path, 'utf8')) as ScaleFile;
  const d = scale.data;
  const base = Math.max(...scale.parameters.sizes);
  const [nA, nB] = [...scale.parameters.contactSizes].sort((a, b) => a - b);
  const get = (key: string) => {
    const v = d[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`scale.json lacks ${key}`);
    return v;
  };
  const [cpu0, cpu1] = fit(nA, get(`${base}/${nA}/cached-new/serverCpuMs`), nB, get(`${base}/${nB}/cached-new/serverCpuMs`));
  const [b0, b1] = fit(nA, get(`${base}/${nA}/cached-new/bytes`), nB, get(`${base}/${nB}/cached-new/bytes`));
  const bitsPerEntry = (get(`${base}/snapshotBytes`) * 8) / get(`${base}/snapshotEntries`);
  const dbBytesPerUser = get(`${base}/dbBytes`) / base;
  // Serving the snapshot: server CPU per byte, from first sync minus new-contacts-cached.
  const snapCpuPerByte = Math.max(0, get(`${base}/${nB}/first/serverCpuMs`) - get(`${base}/${nB}/cached-new/serverCpuMs`)) / get(`${base}/${nB}/first/snapshotBytes`);

  const C = o.contacts;
  const A = o.newPerDay;
  const rows: Row[] = [];
  const data: Record<string, number> = {};
  for (const users of usersList) {
    const entries = users * IDENTIFIERS_PER_USER;
    const snapshotBytes = (entries * bitsPerEntry) / 8;
    const deltaBytes = churn * entries * DELTA_BYTES_PER_ENTRY;
    const ways: [string, number, number, number][] = [
      // [name, contacts evaluated per client-day, extra bytes per client-day, extra server CPU ms per client-day]
      ['today: all contacts re-evaluated, snapshot re-downloaded', C, snapshotBytes, snapCpuPerByte * snapshotBytes],
      ['today: all contacts re-evaluated, delta applied', C, deltaBytes, 0],
      ['incremental (model): new contacts only + delta + labels', A, deltaBytes, 0],
    ];
    for (const [way, evaluated, extraBytes, extraCpuMs] of ways) {
      const cpuMsPerClient = cpu0 + cpu1 * evaluated + extraCpuMs;
      const bytesPerClient = b0 + b1 * evaluated + extraBytes;
      const cpuHours = (users * cpuMsPerClient) / 3.6e6;
      rows.push({
        users,
        'daily sync': way,
        'contacts evaluated per client': evaluated,
        'server CPU-hours/day': round(cpuHours),
        'cores busy around the clock': round(cpuHours / 24),
        'bytes per client per day': round(bytesPerClient),
        'bandwidth TB/day (both ways)': round((users * bytesPerClient) / 1e12, 3),
        'average Gbit/s': round((users * bytesPerClient * 8) / 86400 / 1e9, 3),
      });
      const key = `${users}/${way.startsWith('incremental') ? 'incremental' : way.includes('snapshot') ? 'snapshot' : 'delta'}`;
      data[`${key}/cpuHoursPerDay`] = cpuHours;
      data[`${key}/bytesPerDay`] = users * bytesPerClient;
    }
  }
  const storage: Row[] = usersList.map((users) => {
    const entries = users * IDENTIFIERS_PER_USER;
    return {
      users,
      'directory (SQLite) GB': gb(dbBytesPerUser * users),
      'snapshot per client MB': round((entries * bitsPerEntry) / 8 / 1e6),
      'delta log growth GB/day': gb(churn * entries * DELTA_BYTES_PER_ENTRY),
      'client caches, all clients, TB': round((users * (entries * bitsPerEntry)) / 8 / 1e12, 3),
    };
  });
  const inputs: Row[] = [
    { input: 'server CPU per sync, fixed', value: round(cpu0), unit: 'ms', from: `scale, ${base.toLocaleString('en-US')} users, ${nA.toLocaleString('en-US')} and ${nB.toLocaleString('en-US')} new contacts, snapshot cached (line through both)` },
    { input: 'server CPU per contact evaluated (with labels of matches)', value: round(cpu1, 3), unit: 'ms', from: 'same' },
    { input: 'bytes per sync, fixed', value: round(b0), unit: 'bytes', from: 'same' },
    { input: 'bytes per contact evaluated (incl. sealed labels of the 25% matches)', value: round(b1), unit: 'bytes', from: 'same' },
    { input: 'snapshot', value: round(bitsPerEntry), unit: 'bits per entry', from: `scale, ${base.toLocaleString('en-US')} users` },
    { input: 'server CPU to send the snapshot', value: round(snapCpuPerByte * 1e6, 4), unit: 'ms per MB', from: `scale, first sync minus new-contacts-cached, ${nB.toLocaleString('en-US')} contacts` },
    { input: 'directory file', value: round(dbBytesPerUser), unit: 'bytes per user', from: `scale, SQLite file after \`directory import\`` },
    { input: 'identifiers per user', value: IDENTIFIERS_PER_USER, unit: '', from: 'assumed (as in scale)' },
    { input: 'directory churn', value: churn, unit: 'share of entries per day', from: 'assumed (--churn)' },
    { input: 'delta', value: DELTA_BYTES_PER_ENTRY, unit: 'bytes per changed entry', from: 'protocol (incremental sync), not measured' },
    { input: 'contacts per client / new per day', value: `${C} / ${A}`, unit: '', from: 'issue 13' },
  ];
  return {
    name: 'model',
    title: `Cost model: ${usersList.map((n) => n.toLocaleString('en-US')).join(' and ')} users, ${C} contacts each, ${A} new a day, one sync a day`,
    smoke: o.smoke,
    parameters: { contacts: C, newPerDay: A, churn, users: usersList, scaleFile: path, scaleMeasured: scale.machine.date, scaleMachine: scale.machine.cpu, scaleLoad: scale.machine.loadAverage ?? null, scalePool: scale.parameters.pool ?? false },
    data: { ...data, cpu0, cpu1, b0, b1, bitsPerEntry, dbBytesPerUser },
    notes: [
      `A model, not a measurement: the inputs below were measured by \`bench -- scale\` on ${scale.machine.cpu} at ${scale.machine.date} (load ${scale.machine.loadAverage?.join('/') ?? '?'}), ${scale.parameters.pool ? 'with worker pools' : 'single-threaded'}; server CPU-hours are those of that machine's cores.`,
      'Server CPU per contact comes from a whole sync (hello, info, evaluations with proofs, label lookups and sealing, framing), not from the evaluation alone.',
      'Incremental sync is modelled from the protocol: 0 evaluations for contacts already resolved in this epoch, a delta of 8 bytes per changed entry, labels only for new matches; an epoch rotation (every contact re-evaluated) is not in the daily figure.',
      'The delta and snapshot serving cost no measured server CPU beyond what the first-sync difference shows; the delta\'s own CPU is taken as 0.',
    ],
    sections: [
      { title: 'Per day', rows },
      { title: 'Storage', rows: storage },
      { title: 'Inputs', rows: inputs },
    ],
  };
}
