/** Parent side of child.ts: fork it, wait for its messages, ask it for its resource usage. */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { benchCompiled } from './paths.js';
import { analyzeFixture, fixturePath, markAnalyzed, readFixtureMeta, type FixtureMeta } from './directory-fixture.js';

export interface Usage {
  cpu: { user: number; system: number };
  maxRssMiB: number;
  rssMiB: number;
  heapMiB: number;
  externalMiB: number;
}

type Msg = { type: string; [k: string]: unknown };

export class Child {
  readonly proc: ChildProcess;
  private readonly queue: Msg[] = [];
  private readonly waiters: { type: string; resolve: (m: Msg) => void; reject: (e: Error) => void }[] = [];
  readonly sessions: Record<string, number>[] = [];
  private exited: Error | undefined;
  private nextId = 0;

  /** BENCH_CHILD_ARGV adds Node options to every child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" for a server profile. */
  constructor(args: string[], execArgv: string[] = []) {
    const extra = (process.env.BENCH_CHILD_ARGV ?? '').split(' ').filter(Boolean);
    this.proc = fork(join(benchCompiled, 'child.js'), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...execArgv, ...extra] });
    this.proc.on('message', (m: Msg) => {
      if (m.type === 'session') {
        this.sessions.push(m.report as Record<string, number>);
        return;
      }
      if (m.type === 'error') return this.failAll(new Error(`child failed: ${String(m.message)}`));
      const i = this.waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(m);
      else this.queue.push(m);
    });
    this.proc.on('exit', (code, signal) => this.failAll(new Error(`child exited (${code ?? signal}) before answering`)));
  }

  private failAll(err: Error): void {
    this.exited ??= err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  waitFor<T = Msg>(type: string): Promise<T> {
    const i = this.queue.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0] as T);
    if (this.exited) return Promise.reject(this.exited);
    return new Promise<T>((resolve, reject) => this.waiters.push({ type, resolve: resolve as (m: Msg) => void, reject }));
  }

  async usage(): Promise<Usage> {
    const pending = this.waitFor<Usage>('usage');
    this.proc.send({ type: 'usage', id: this.nextId++ });
    return pending;
  }

  /** Waits until `n` session reports have arrived (the server reports after each closes). */
  async sessionsAtLeast(n: number, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.sessions.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  }

  async stop(): Promise<Usage | undefined> {
    if (this.exited) return undefined;
    const pending = this.waitFor<Usage>('stopped').catch(() => undefined);
    this.proc.send({ type: 'stop' });
    return pending;
  }
}

export interface BuildResult {
  meta: FixtureMeta;
  cpu: { user: number; system: number };
}

/** Builds a directory in a child (alone in its process, so its peak RSS is the build's). */
/** Whether fixtures get ANALYZE after their build (default yes; `--no-analyze` sets BENCH_NO_ANALYZE). */
export const analyzeFixtures = (): boolean => process.env.BENCH_NO_ANALYZE !== '1';

export async function buildInChild(users: number, store: 'memory' | 'sqlite', path?: string, usePool = false): Promise<BuildResult> {
  const flags = [...(usePool ? ['--pool'] : []), ...(analyzeFixtures() ? [] : ['--no-analyze'])];
  const child = new Child(['build', String(users), store, ...(path ? [path] : []), ...flags]);
  const msg = await child.waitFor<{ meta: FixtureMeta; cpu: { user: number; system: number } }>('built');
  await new Promise((r) => child.proc.once('exit', r));
  return msg;
}

export interface ServingChild {
  child: Child;
  url: string;
  openMs: number;
  count: number;
  ready: Usage & { baselineMaxRssMiB: number };
}

export async function serveInChild(path: string, execArgv: string[] = [], usePool = false): Promise<ServingChild> {
  const child = new Child(['serve', path, ...(usePool ? ['--pool'] : [])], execArgv);
  const ready = await child.waitFor<Usage & { url: string; openMs: number; count: number; baselineMaxRssMiB: number }>('ready');
  return { child, url: ready.url, openMs: ready.openMs, count: ready.count, ready };
}

/** The cached SQLite directory of `users` users, built (in a child) when missing. */
export async function ensureFixture(users: number, smoke: boolean, usePool = false): Promise<FixtureMeta> {
  const path = fixturePath(users, smoke);
  const meta = readFixtureMeta(path);
  if (meta && meta.users === users) {
    if (!meta.analyzed && analyzeFixtures()) {
      console.log(`ANALYZE ${path}: ${analyzeFixture(path).toFixed(0)} ms`);
      return markAnalyzed(path, meta);
    }
    return meta;
  }
  console.log(`building a directory of ${users.toLocaleString('en-US')} users at ${path} (cached for later runs) ...`);
  return (await buildInChild(users, 'sqlite', path, usePool)).meta;
}
