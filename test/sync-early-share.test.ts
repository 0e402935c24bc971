/**
 * An undeclared URL's sync adds its verified OPRF outputs to the directory identity's (as
 * outputs only: identity-share.ts withVerifiedOutputs). Those do not depend on the labels,
 * so runSync writes them as soon as every output is verified, while the server looks up
 * the labels (issue 13 §1: the client's tail after dir.labels was two outputs saves). The
 * identity's copy must be exactly what it was when written after the sync: for books of
 * new and known contacts alike; and the URL's own outputs (with their label state) and its
 * receipt are still written after the labels.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { identityScope, MemorySyncCache } from '../src/browser/sync-cache.js';
import { withVerifiedOutputs } from '../src/browser/identity-share.js';
import { runSync } from '../src/browser/sync-core.js';
import { seededRng } from '../src/contacts/generate.js';
import type { KnownOutputs } from '../src/protocol/discovery/known-outputs.js';
import { clientAccountOf } from '../src/client/client-account.js';
import { outputCacheKey } from '../src/client/output-keys.js';
import { buildDirectory, generateUsers, parsePlanned, smallBook, tempDir } from './helpers/service.js';

const tmp = tempDir('contact-psi-early-share-');
afterAll(() => tmp.cleanup());

const rng = seededRng(4242);
const users = generateUsers(rng, 200);
const contacts = smallBook(rng, users, { contacts: 60, registered: 25, unregistered: 35 });
const secureRng = (n: number) => new Uint8Array(randomBytes(n));

let running: RunningServer;
beforeAll(async () => {
  const directory = await buildDirectory(join(tmp.path, 'server'), users);
  running = await serveDirectory(directory, { host: '127.0.0.1', port: 0 });
}, 120_000);
afterAll(() => running?.close());

/** A MemorySyncCache that logs every outputs save (by scope kind) next to the session's events. */
class LoggingCache extends MemorySyncCache {
  readonly log: string[] = [];
  override async saveOutputs(scope: string, outputs: KnownOutputs, cacheKey: Uint8Array): Promise<void> {
    this.log.push(scope.startsWith('identity:') ? 'save identity' : 'save url');
    return super.saveOutputs(scope, outputs, cacheKey);
  }
  override async saveReceipt(...args: Parameters<MemorySyncCache['saveReceipt']>): Promise<void> {
    this.log.push('save receipt');
    return super.saveReceipt(...args);
  }
}

const entriesOf = (o: KnownOutputs | undefined) =>
  [...(o?.entries ?? [])].map(([id, e]) => `${id} ${Buffer.from(e.output).toString('hex')} ${e.labelChecked} ${e.match?.userId ?? '-'}`).sort();

describe('the identity share of an undeclared URL', () => {
  it('is written before the labels arrive, and holds exactly the outputs of the finished sync', async () => {
    const planned = parsePlanned(contacts, 'vcard-3.0', 'CH');
    const all = [...planned.contacts];
    await fc.assert(
      fc.asyncProperty(fc.subarray(all, { minLength: 2 }), fc.subarray(all, { minLength: 2 }), async (first, second) => {
        const cache = new LoggingCache();
        const server = running.server.url;
        const one = await runSync({ server, book: { ...planned, contacts: first }, cache, rng: secureRng });
        const identity = identityScope(one.result.outputs.identity!);
        // What the sync reads of the identity: the entries of its own book (the next save keeps only those).
        const ids = [...new Set(second.flatMap((c) => c.identifiers.map((i) => i.identifier)))];
        const secret = await cache.deviceSecret(() => new Uint8Array(32));
        const keyFor = (id: Uint8Array | undefined) => outputCacheKey(secret, id, clientAccountOf(undefined));
        const before = await cache.loadOutputs(identity, ids, keyFor);
        cache.log.length = 0;
        const two = await runSync({
          server,
          book: { ...planned, contacts: second },
          cache,
          rng: secureRng,
          onEvent: (e) => {
            if (e.type === 'result') cache.log.push('labels answered');
          },
        });
        // What the identity holds now is what sharing the finished sync's outputs gives.
        const expected = withVerifiedOutputs(before, two.result.outputs);
        const after = await cache.loadOutputs(identity, ids, keyFor);
        expect(entriesOf(after)).toEqual(entriesOf(expected ?? before));
        // Written early when the sync evaluated anything; the URL's outputs, then its receipt (none here), after the labels.
        const evaluated = two.result.evaluated > 0 && expected !== undefined;
        expect(cache.log.filter((l) => l !== 'save receipt')).toEqual(evaluated ? ['save identity', 'labels answered', 'save url'] : expected ? ['labels answered', 'save url', 'save identity'] : ['labels answered', 'save url']);
      }),
      { numRuns: 6 },
    );
  });
});
