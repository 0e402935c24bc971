/**
 * The announcer remembers what it appended (announcer.ts): the log's tail after its own
 * append, and each epoch's key statement once verified, so a node serving one view per
 * directory change (a fleet leader) reads and verifies neither again. Only a hint: with two
 * nodes appending to one log in any order, every append still lands at the next free
 * position with the previous entry's hash, and a node whose hint is stale reads the log
 * again. Two Directory + backend nodes on one SQLite file (as verify-integration-witness).
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Directory, SqliteStore } from '../src/directory/index.js';
import { DirectoryDiscoveryBackend } from '../src/directory/discovery-backend.js';
import { entryHash, GENESIS_PREV, openSigned } from '../src/protocol/discovery/announcement.js';
import { USERS, utf8 } from './helpers/verify-integration.js';
import { directorySuite } from './helpers/service.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function twoNodes() {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-announcer-hint-'));
  dirs.push(dir);
  const db = join(dir, 'dir.sqlite');
  const seed = await Directory.open({ store: SqliteStore.open(db), suite: directorySuite() });
  await seed.importUsers(USERS.slice(0, 4));
  await seed.precompute();
  await seed.close();
  const open = async () => {
    const store = SqliteStore.open(db);
    const reads = { readLog: vi.spyOn(store, 'readLog'), findKey: vi.spyOn(store, 'findLogEntry') };
    const directory = await Directory.open({ store, suite: directorySuite() });
    const backend = await DirectoryDiscoveryBackend.open(directory, 'fuse');
    return { directory, backend, reads, store };
  };
  return [await open(), await open()] as const;
}

/** Every entry at its position, chained to the previous one's hash. */
async function checkChain(store: SqliteStore): Promise<number> {
  const length = await store.logLength();
  const entries = await store.readLog(0, length);
  let prev: Uint8Array = GENESIS_PREV;
  entries.forEach((e, i) => {
    const signed = openSigned(e.envelope);
    expect(e.seq).toBe(i);
    expect(signed.statement.seq).toBe(i);
    expect(Buffer.from(signed.statement.prev).equals(Buffer.from(prev))).toBe(true);
    prev = entryHash(signed.body);
  });
  return length;
}

describe('the announcer\'s hint of the log it appended to', () => {
  it('a node announcing change after change reads neither the tail nor its epoch\'s key statement again', async () => {
    const [a, b] = await twoNodes();
    try {
      for (let i = 0; i < 3; i++) {
        await a.directory.importUsers([USERS[4 + i]!]);
        a.reads.readLog.mockClear();
        a.reads.findKey.mockClear();
        await a.backend.refresh();
        expect(a.reads.readLog).not.toHaveBeenCalled();
        expect(a.reads.findKey.mock.calls.filter((c) => c[0] === 'epoch-key')).toHaveLength(0);
      }
      expect(await checkChain(a.store)).toBe(1 + 4); // the key statement, the first view and three changes
    } finally {
      await a.directory.close();
      await b.directory.close();
    }
  });

  it('two nodes announcing in any order: every append lands at the next position, chained, and each node serves what it signed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }), async (order) => {
        const nodes = await twoNodes();
        try {
          let next = 4;
          for (const first of order) {
            const node = nodes[first ? 0 : 1];
            const n = next++;
            await node.directory.importUsers([{ userId: `hint-${n}`, identifiers: [`tel:+4179300${String(n).padStart(4, '0')}`], label: utf8.encode(`pk:hint-${n}`) }]);
            const view = await node.backend.refresh();
            const announced = openSigned(view.signed!.announcement).statement;
            expect(announced).toMatchObject({ kind: 'announcement', version: view.snapshot.version });
          }
          // The other node, its hint stale (or none), catches up and finds the entry it would sign.
          for (const node of nodes) await node.backend.refresh();
          await checkChain(nodes[0].store);
          expect(nodes[0].backend.current().snapshot.version).toBe(nodes[1].backend.current().snapshot.version);
        } finally {
          for (const n of nodes) await n.directory.close();
        }
      }),
      { numRuns: 6 },
    );
  }, 120_000);
});
