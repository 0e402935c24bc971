/**
 * Shared pieces of the client SDK tests (test/client-*.test.ts): a fake clock that runs
 * the SDK's timers in order and lets promises settle between them, a transport spy that
 * records every call (and what it was given, serialized), address books built in code,
 * a seeded random source and temp folders.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../src/client/clock.js';
import type { DirectoryMatch } from '../src/client/merge.js';
import type { TransportOptions } from '../src/client/sdk.js';
import type { AddressBook, ContactEntry } from '../src/contacts/index.js';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** Lets pending promise chains (and their setImmediate-free work) run to completion. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/** A manual clock: time moves only in advance(); timers due on the way fire in order. */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, FakeTimer>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get timerCount(): number {
    return this.#timers.size;
  }

  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await settle();
      let next: FakeTimer | undefined;
      for (const t of this.#timers.values()) if (t.at <= target && (next === undefined || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      if (next === undefined) break;
      this.#timers.delete(next.id);
      this.#now = next.at;
      next.fn();
    }
    this.#now = target;
    await settle();
  }
}

/** mulberry32: a small seeded uniform source in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export interface TransportCall {
  at: number;
  options: TransportOptions;
  /** Everything the transport was given, serialized (Uint8Array as hex): what could leave the device. */
  serialized: string;
}

const serialize = (options: TransportOptions): string =>
  JSON.stringify(options, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'function' ? '[function]' : v));

/**
 * A transport that records each call and answers with `respond` (default: every
 * identifier in `registered` matches its user id).
 */
export function spyTransport(clock: { now(): number }, respond?: (options: TransportOptions, call: number) => Promise<{ matches: DirectoryMatch[] }>) {
  const calls: TransportCall[] = [];
  const transport = async (options: TransportOptions) => {
    calls.push({ at: clock.now(), options, serialized: serialize(options) });
    return respond ? respond(options, calls.length) : { matches: [] };
  };
  return { calls, transport };
}

/** Answers as a directory holding `registered` (identifier -> userId) would. */
export function directoryOf(registered: Record<string, string>) {
  return async (options: TransportOptions): Promise<{ matches: DirectoryMatch[] }> => {
    const matches: DirectoryMatch[] = [];
    for (const c of options.book.contacts) {
      for (const id of c.identifiers) {
        const userId = registered[id.identifier];
        if (userId !== undefined) matches.push({ name: c.name, identifier: id.identifier, userId, label: `pk:${userId}` });
      }
    }
    return { matches };
  };
}

/** An address book from [name, identifiers] pairs (identifiers already canonical). */
export function bookOf(entries: readonly (readonly [string, readonly string[]])[]): AddressBook {
  const contacts: ContactEntry[] = entries.map(([name, ids], index) => ({
    index,
    name,
    identifiers: ids.map((identifier) => ({ kind: identifier.startsWith('tel:') ? 'tel' : 'mailto', raw: identifier.replace(/^[a-z]+:/, ''), identifier })),
  }));
  return { contacts, invalid: [] };
}

export function tempDir(prefix = 'contact-psi-client-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A fresh sub-folder of `root` per call. */
export function folders(root: string): () => string {
  let n = 0;
  return () => join(root, `sdk-${n++}`);
}
