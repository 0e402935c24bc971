/**
 * Issue 9 §3: a label the directory accepts must seal to what a client accepts (one
 * `dir.labels` item, MAX_SEALED_LABEL_BYTES). Before, a 4,096-byte label (the directory's
 * own limit) sealed to 4,140 bytes and every sync of a book holding that user failed with
 * `too_large`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDirectoryFile } from '../src/directory/import-file.js';
import { normalizeUser } from '../src/directory/users.js';
import { sealLabelsWith } from '../src/directory/seal.js';
import { DiscoveryClientSession } from '../src/protocol/discovery/client.js';
import { MAX_LABEL_PLAINTEXT_BYTES, MAX_SEALED_LABEL_BYTES, SEALED_LABEL_OVERHEAD_BYTES, sealedLabelBytes } from '../src/protocol/discovery/labels.js';
import { DEFAULT_DISCOVERY_LIMITS } from '../src/protocol/discovery/messages.js';
import { DiscoveryServerSession, type DiscoveryServerResult } from '../src/protocol/discovery/server.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { memoryBackend } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');

/** User ids of 1..256 characters of 1 to 4 UTF-8 bytes each, and a label whose sealed size lands within ±3 bytes of the limit. */
const nearTheLimit = fc
  .record({
    userId: fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀'), minLength: 1, maxLength: 64 }),
    delta: fc.integer({ min: -3, max: 3 }),
  })
  .map(({ userId, delta }) => {
    // sealedLabelBytes(u, 0): the 12-byte IV, the user id's varint length (1 or 2 bytes here) and the id.
    const labelBytes = MAX_SEALED_LABEL_BYTES - sealedLabelBytes(utf8Length(userId), 0) + delta;
    return { userId, label: 'x'.repeat(labelBytes), sealed: MAX_SEALED_LABEL_BYTES + delta };
  });

const row = (userId: string, label: string, phone = '+41791234567') => ({ userId, phones: [phone], label });

describe('one label limit end to end', () => {
  it('the constants agree with the client limit and the seal format', () => {
    expect(DEFAULT_DISCOVERY_LIMITS.maxLabelBytes).toBe(MAX_SEALED_LABEL_BYTES);
    // Label format 2: a 12-byte synthetic IV and the user id's length as a varint (1 to 3 bytes).
    expect(SEALED_LABEL_OVERHEAD_BYTES).toBe(12 + 1);
    expect(MAX_LABEL_PLAINTEXT_BYTES).toBe(MAX_SEALED_LABEL_BYTES - 12 - 1);
    expect([sealedLabelBytes(127, 0), sealedLabelBytes(128, 0), sealedLabelBytes(0xffff, 0)]).toEqual([12 + 1 + 127, 12 + 2 + 128, 12 + 3 + 0xffff]);
    const [seal] = sealLabelsWith([{ tag: new Uint8Array(64), userId: 'u1', label: new Uint8Array(10) }], new Uint8Array(24));
    expect(seal.sealed.length).toBe(sealedLabelBytes(2, 10));
  });

  it('the generator reaches both sides of the limit', () => {
    const sizes = fc.sample(nearTheLimit, 200).map((s) => s.sealed);
    expect(sizes.some((s) => s === MAX_SEALED_LABEL_BYTES)).toBe(true);
    expect(sizes.some((s) => s === MAX_SEALED_LABEL_BYTES + 1)).toBe(true);
    expect(sizes.some((s) => s === MAX_SEALED_LABEL_BYTES - 1)).toBe(true);
  });

  it('import accepts a row iff its label seals within the limit; a refused row has its row number and label_too_long', () => {
    fc.assert(
      fc.property(nearTheLimit, ({ userId, label, sealed }) => {
        const parsed = parseDirectoryFile(JSON.stringify([row('ok', 'short', '+41791234500'), row(userId, label)]), { format: 'json' });
        expect(parsed.users.map((u) => u.userId)).toEqual(sealed <= MAX_SEALED_LABEL_BYTES ? ['ok', userId] : ['ok']);
        if (sealed > MAX_SEALED_LABEL_BYTES) {
          expect(parsed.errors).toEqual([expect.objectContaining({ row: 2, code: 'label_too_long', userId })]);
        } else {
          expect(parsed.errors).toEqual([]);
          // What was accepted seals to exactly what the client's schema still takes.
          const user = parsed.users[1];
          const [seal] = sealLabelsWith([{ tag: new Uint8Array(64), userId: user.userId, label: user.label }], new Uint8Array(24));
          expect(seal.sealed.length).toBe(sealed);
          expect(seal.sealed.length).toBeLessThanOrEqual(DEFAULT_DISCOVERY_LIMITS.maxLabelBytes);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('the CSV reader refuses a 4,096-byte label (the old directory limit) with its row number', () => {
    const csv = `user_id,phones,emails,label,discoverable\nalice,+41791234567,,${'k'.repeat(4096)},\n`;
    const parsed = parseDirectoryFile(csv);
    expect(parsed.users).toEqual([]);
    expect(parsed.errors).toEqual([expect.objectContaining({ row: 2, code: 'label_too_long', userId: 'alice' })]);
  });

  it('the store checks the same sealed size (library callers bypass the file reader)', () => {
    fc.assert(
      fc.property(nearTheLimit, ({ userId, label, sealed }) => {
        const input = { userId, identifiers: ['tel:+41791234567'], label: new TextEncoder().encode(label) };
        if (sealed <= MAX_SEALED_LABEL_BYTES) expect(normalizeUser(input).label.length).toBe(label.length);
        else expect(() => normalizeUser(input)).toThrow(expect.objectContaining({ code: 'invalid_user' }));
      }),
      { numRuns: 60 },
    );
  });
});

describe('a server never sends a sealed label a client refuses', () => {
  it('drops an oversize label left by an older directory, counts it, and the sync completes', async () => {
    // An old database may still hold a label sealed before the limit was enforced.
    const dir = memoryBackend([
      { userId: 'big', identifiers: ['tel:+41791234567'], label: 'x'.repeat(4096) },
      { userId: 'small', identifiers: ['tel:+14155550100'], label: 'pk' },
    ]);
    const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: ['tel:+41791234567', 'tel:+14155550100'], rng: seededRng(1) });
    const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0 });
    const out = await runSessionPairAsync(client, server, 0);
    expect(out.clientError).toBeUndefined();
    expect(out.serverError).toBeUndefined();
    expect(out.clientResult!.matches.map((m) => m.userId)).toEqual(['small']);
    const result = out.server.find((e) => e.type === 'result') as { result: DiscoveryServerResult } | undefined;
    expect(result?.result.labelsDropped).toBe(1);
  });

  it('a label exactly at the limit is sent', async () => {
    const userId = 'edge';
    const label = 'y'.repeat(MAX_LABEL_PLAINTEXT_BYTES - userId.length);
    const dir = memoryBackend([{ userId, identifiers: ['tel:+41791234567'], label }]);
    const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: ['tel:+41791234567'], rng: seededRng(3) });
    const out = await runSessionPairAsync(client, new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(4), now: 0 }), 0);
    expect(out.clientError).toBeUndefined();
    expect(out.clientResult!.matches.map((m) => m.userId)).toEqual([userId]);
    expect((out.server.find((e) => e.type === 'result') as { result: DiscoveryServerResult }).result.labelsDropped).toBe(0);
  });
});
