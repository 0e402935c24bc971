/**
 * A fleet node as a child process (`contact-psi serve --db postgres://...`), for `demo
 * --fleet`, the fleet benchmark and the tests: started, watched line by line (waiting on
 * what it prints, never on a timer), and killed, gently or with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** dist/src/cli/main.js, beside this file once built. */
export const CLI_PATH = join(import.meta.dirname, 'main.js');

export interface NodeProcessOptions {
  /** The built CLI (default: main.js beside this file, i.e. dist/src/cli/main.js). */
  readonly cli?: string;
  readonly name: string;
  readonly db: string;
  /** The fleet's key-encryption key (PostgreSQL); none for a `serve` on a SQLite file (bench -- fleet compares the two). */
  readonly kekFile?: string;
  /** 0: any free port (the default); a fixed one to restart a node where clients expect it. */
  readonly port?: number;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Every line the node prints, stdout and stderr. */
  readonly onLine?: (line: string) => void;
}

export interface NodeProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** ws://host:port, once listening. */
  readonly url: string;
  readonly port: number;
  readonly lines: string[];
  /** Resolves with the first line (already printed, or to come) matching `pattern`; rejects if the node exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** SIGKILL, as a crash; resolves when the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful); resolves when the process is gone. */
  stop(): Promise<void>;
  /** A signal (SIGUSR2: rotate on the leader). */
  signal(name: NodeJS.Signals): void;
}

export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  const kek = options.kekFile === undefined ? [] : ['--kek-file', options.kekFile];
  const args = [options.cli ?? CLI_PATH, 'serve', '--db', options.db, ...kek, '--node', options.name, '--port', String(options.port ?? 0), ...(options.args ?? [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (m: RegExpExecArray) => void; reject: (err: Error) => void }[] = [];
  let exited: Error | undefined;
  const onLine = (line: string) => {
    lines.push(line);
    options.onLine?.(line);
    for (const w of [...waiters]) {
      const m = w.pattern.exec(line);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      parts.forEach(onLine);
    });
  }
  const gone = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = new Error(`node ${options.name} exited (${signal ?? code}): ${lines.slice(-5).join(' | ')}`);
      for (const w of waiters.splice(0)) w.reject(exited);
      resolve();
    }),
  );
  const waitFor = (pattern: RegExp): Promise<RegExpExecArray> => {
    for (const line of lines) {
      const m = pattern.exec(line);
      if (m) return Promise.resolve(m);
    }
    if (exited) return Promise.reject(exited);
    return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }));
  };
  const listening = await waitFor(/listening on (ws:\/\/[^\s]+:(\d+))/);
  return {
    name: options.name,
    child,
    url: listening[1]!,
    port: Number(listening[2]),
    lines,
    waitFor,
    async kill9() {
      if (!exited) child.kill('SIGKILL');
      await gone;
    },
    async stop() {
      if (!exited) child.kill('SIGTERM');
      await gone;
    },
    signal(name) {
      child.kill(name);
    },
  };
}
