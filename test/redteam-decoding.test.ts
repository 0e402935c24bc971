/**
 * Red team, bounded decoding (issue 9 §1), the classes found after the first fix:
 *
 * 1. Decoding was shaped by every message of the protocol, both directions: a server
 *    pre-scanned its input against the client-bound shapes too, so a 200 KB `dir.labels` of
 *    100,000 empty byte strings (a shape only a server sends) passed the pre-scan and was
 *    materialised by msgpackr (measured: 175 ms CPU, 14 MiB heap per message) before the
 *    transition table refused it. Now each role decodes only what some state of it accepts.
 * 2. The schema check took a field named after an Object.prototype member ("constructor",
 *    "toString", "__proto__", ...) as a known field and accepted the message.
 */
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../src/protocol/discovery/messages.js';
import { memoryBackend } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const pack = (entries: [string, unknown][]): Uint8Array => new Uint8Array(packr.pack(new Map(entries)));

const { backend } = memoryBackend([{ userId: 'u1', identifiers: ['tel:+41791234567'], label: 'pk1' }]);
const serverSession = () => new DiscoveryServerSession({ backend, rng: seededRng(1), now: 0 });

/** msgpack bytes of `{v: 1, t: type, field: [n byte strings of itemBytes bytes]}`, built by hand (no msgpackr). */
function listMessage(type: string, field: string, n: number, itemBytes: number): Uint8Array {
  const enc = new TextEncoder();
  const str = (s: string) => [0xa0 | s.length, ...enc.encode(s)];
  const head = [0x83, ...str('v'), 0x01, ...str('t'), ...str(type), ...str(field), 0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const item = [0xc4, itemBytes, ...new Array<number>(itemBytes).fill(7)];
  const out = new Uint8Array(head.length + n * item.length);
  out.set(head);
  for (let i = 0; i < n; i++) out.set(item, head.length + i * item.length);
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe('each role decodes only what it receives', () => {
  it('a server refuses a dir.labels of 100,000 items in the pre-scan: msgpackr never runs', () => {
    const unpack = vi.spyOn(Unpackr.prototype, 'unpack');
    const session = serverSession();
    session.handle(listMessage('dir.labels', 'sealed', 100_000, 0), 0);
    expect(unpack).not.toHaveBeenCalled();
    expect(session.error?.code).toBe('bad_field');
  });

  it('property: any client-bound list message (dir.labels, dir.log, dir.announcement) of any size is refused by a server before msgpackr, in any state', () => {
    const listTypes = [
      ['dir.labels', 'sealed'],
      ['dir.log', 'entries'],
      ['dir.announcement', 'announcements'],
    ] as const;
    fc.assert(
      fc.property(fc.constantFrom(...listTypes), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 64 }), fc.boolean(), ([type, field], n, itemBytes, afterHello) => {
        const unpack = vi.spyOn(Unpackr.prototype, 'unpack');
        const session = serverSession();
        if (afterHello) session.handle(pack([['v', 1], ['t', 'dir.hello'], ['suite', 'ristretto255-SHA512']]), 0);
        expect(session.currentState).toBe(afterHello ? 'serving' : 'awaiting_hello');
        unpack.mockClear();
        session.handle(listMessage(type, field, n, itemBytes), 0);
        expect(unpack).not.toHaveBeenCalled();
        expect(['bad_field', 'too_large', 'malformed'], `${type} n=${n} item=${itemBytes} hello=${afterHello}: ${session.error?.message}`).toContain(session.error?.code);
        unpack.mockRestore();
      }),
      { numRuns: 60 },
    );
  });

  it('a client-bound message the pre-scan lets through is unexpected_message, as before, not unknown_type', () => {
    const session = serverSession();
    session.handle(pack([['v', 1], ['t', 'dir.evaluated'], ['seq', 0], ['evaluated', new Uint8Array(32)], ['proof', new Uint8Array(64)]]), 0);
    expect(session.error?.code).toBe('unexpected_message');
  });
});

describe('unknown fields named after Object.prototype members', () => {
  const maxKey = Math.max(...Object.values(discoverySchemas(DEFAULT_DISCOVERY_LIMITS)).flatMap((s) => Object.keys(s).map((k) => k.length)));
  const protoNames = Object.getOwnPropertyNames(Object.prototype).filter((k) => k.length <= maxKey);

  it('generator reaches the names the pre-scan admits', () => {
    expect(protoNames).toEqual(expect.arrayContaining(['constructor', 'toString', '__proto__', 'valueOf']));
  });

  it('property: a dir.hello with any such extra field is refused with bad_field', () => {
    fc.assert(
      fc.property(fc.constantFrom(...protoNames), fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 8 })), (name, value) => {
        const session = serverSession();
        session.handle(pack([['v', 1], ['t', 'dir.hello'], ['suite', 'ristretto255-SHA512'], [name, value]]), 0);
        expect(session.error?.code).toBe('bad_field');
        expect(session.currentState).toBe('failed');
      }),
    );
  });
});
