/**
 * The pool's threads: a FIFO queue of tasks and N workers that take one task at a time.
 * A worker that dies (uncaught error, out of memory, exit) rejects only its own task with
 * `worker_crashed` and is replaced; if fresh workers keep dying before finishing anything
 * (a broken worker script), the set gives up with `pool_unavailable` instead of looping.
 * Idle workers are unref'd, so a forgotten pool does not keep the process alive.
 */
import { Worker } from 'node:worker_threads';
import { ContactPsiError } from '../errors.js';
import type { BackendName } from '../group/select.js';
import { taskTransferList, wipeTask, type Reply, type Task, type TaskResult } from './wire.js';
import { reviveError } from './wire-error.js';

export interface ThreadSetOptions {
  readonly size: number;
  readonly url: URL;
  readonly backend: BackendName;
}

interface Pending {
  readonly id: number;
  readonly task: Task;
  readonly resolve: (result: TaskResult) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  current: Pending | undefined;
  lastError: Error | undefined;
}

/** Consecutive deaths (no task finished in between) per worker slot before giving up. */
const CRASH_LIMIT_PER_WORKER = 3;

export class ThreadSet {
  readonly #options: ThreadSetOptions;
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 1;
  #crashStreak = 0;
  #restarts = 0;
  #broken: ContactPsiError | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ThreadSetOptions) {
    this.#options = options;
    for (let i = 0; i < options.size; i++) this.#slots.push(this.#spawn());
  }

  /** Workers replaced after a crash since the set started. */
  get restarts(): number {
    return this.#restarts;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  run(task: Task): Promise<TaskResult> {
    if (this.#closing !== undefined) return Promise.reject(closedError());
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    return new Promise<TaskResult>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, task, resolve, reject });
      this.#pump();
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const pending of this.#queue.splice(0)) drop(pending, closedError());
      // Running tasks are rejected by the exit handler, with the same error.
      await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
    })();
    return this.#closing;
  }

  #spawn(): Slot {
    const worker = new Worker(this.#options.url, { workerData: { backend: this.#options.backend } });
    const slot: Slot = { worker, current: undefined, lastError: undefined };
    worker.unref();
    worker.on('message', (reply: Reply) => this.#onReply(slot, reply));
    worker.on('messageerror', (err: Error) => this.#settle(slot, undefined, err));
    worker.on('error', (err: Error) => {
      slot.lastError = err;
    });
    worker.on('exit', (code: number) => this.#onExit(slot, code));
    return slot;
  }

  #pump(): void {
    for (const slot of this.#slots) {
      if (this.#queue.length === 0) return;
      if (slot.current !== undefined) continue;
      const pending = this.#queue.shift()!;
      slot.current = pending;
      slot.worker.ref(); // a running task keeps the process alive until it settles
      try {
        slot.worker.postMessage({ id: pending.id, task: pending.task }, taskTransferList(pending.task));
      } catch (err) {
        this.#settle(slot, undefined, err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  #onReply(slot: Slot, reply: Reply): void {
    if (slot.current?.id !== reply.id) return; // a reply for a task already settled
    this.#crashStreak = 0;
    if (reply.ok) this.#settle(slot, reply.result, undefined);
    else this.#settle(slot, undefined, reviveError(reply.error));
  }

  #settle(slot: Slot, result: TaskResult | undefined, err: Error | undefined): void {
    const pending = slot.current;
    slot.current = undefined;
    slot.worker.unref();
    if (pending !== undefined) {
      if (err !== undefined) pending.reject(err);
      else pending.resolve(result!);
    }
    this.#pump();
  }

  #onExit(slot: Slot, code: number): void {
    const index = this.#slots.indexOf(slot);
    const pending = slot.current;
    slot.current = undefined;
    if (this.#closing !== undefined) {
      pending?.reject(closedError());
      return;
    }
    const reason = slot.lastError === undefined ? `exit code ${code}` : slot.lastError.message;
    pending?.reject(new ContactPsiError('worker_crashed', `a pool worker stopped during the task (${reason})`));
    this.#crashStreak++;
    if (this.#crashStreak > CRASH_LIMIT_PER_WORKER * this.#options.size) {
      this.#broken = new ContactPsiError('pool_unavailable', `pool workers keep stopping before finishing a task (last: ${reason})`);
      for (const queued of this.#queue.splice(0)) drop(queued, this.#broken);
      return;
    }
    this.#restarts++;
    if (index >= 0) this.#slots[index] = this.#spawn();
    this.#pump();
  }
}

function drop(pending: Pending, err: Error): void {
  wipeTask(pending.task);
  pending.reject(err);
}

const closedError = (): ContactPsiError => new ContactPsiError('pool_closed', 'the worker pool is closed');
