import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import { CodecError } from '../src/protocol/errors.js';
import { DEFAULT_LIMITS } from '../src/protocol/limits.js';
import { EncodingKinds, PsiModes, psiSchemas } from '../src/protocol/messages.js';

const schemas = psiSchemas(DEFAULT_LIMITS);
const decode = (b: Uint8Array) => decodeMessage<{ t: string }>(b, schemas, DEFAULT_LIMITS.maxMessageBytes);
const bin = (max: number) => fc.uint8Array({ maxLength: max });
const packed = (size: number) => fc.nat(20).chain((n) => fc.uint8Array({ minLength: n * size, maxLength: n * size }));

const messages = fc.oneof(
  fc.record({
    t: fc.constant('psi.hello'),
    suite: fc.constantFrom('ristretto255-SHA512', 'P256-SHA256'),
    mode: fc.constantFrom(...PsiModes),
    verifiable: fc.boolean(),
    encoding: fc.constantFrom(...EncodingKinds),
    fpr: fc.double({ min: 2 ** -64, max: 0.01, noNaN: true }),
    total: fc.nat(DEFAULT_LIMITS.maxClientItems),
    chunk: fc.integer({ min: 1, max: 65535 }),
  }),
  fc.record(
    { t: fc.constant('psi.setup'), encoding: bin(200), serverCount: fc.nat(1e6), publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }) },
    { requiredKeys: ['t', 'encoding', 'serverCount'] },
  ),
  fc.record({ t: fc.constant('psi.query'), seq: fc.nat(1000), blinded: packed(32) }),
  fc.record(
    { t: fc.constant('psi.evaluation'), seq: fc.nat(1000), evaluated: packed(33), proof: fc.uint8Array({ minLength: 64, maxLength: 64 }) },
    { requiredKeys: ['t', 'seq', 'evaluated'] },
  ),
  fc.record({ t: fc.constant('error'), code: fc.string({ maxLength: 64 }), message: fc.string({ maxLength: 200 }) }),
);

function expectCodecErrorOrMessage(bytes: Uint8Array): void {
  try {
    decode(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(CodecError);
    expect(typeof (err as CodecError).code).toBe('string');
  }
}

describe('codec', () => {
  it('decode(encode(m)) equals m for every message type', () => {
    fc.assert(
      fc.property(messages, (m) => {
        expect(decode(encodeMessage(m))).toEqual(m);
      }),
      { numRuns: 2000 },
    );
  });

  it('encodes plain msgpack: a map with v and t, binary as bin, no extensions', () => {
    const bytes = encodeMessage({ t: 'psi.query', seq: 1, blinded: new Uint8Array([1, 2]) });
    // fixmap of 4: v=1, t="psi.query", seq=1, blinded=bin8(2)
    expect(Buffer.from(bytes).toString('hex')).toBe('84a17601a174a97073692e7175657279a373657101a7626c696e646564c4020102');
  });

  it('random bytes never raise anything but a CodecError with a code', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), expectCodecErrorOrMessage), { numRuns: 10_000 });
  });

  it('mutated valid messages never raise anything but a CodecError with a code', () => {
    const mutation = fc.record({ pos: fc.nat(), byte: fc.nat(255), cut: fc.nat(), extra: fc.uint8Array({ maxLength: 8 }), kind: fc.nat(3) });
    fc.assert(
      fc.property(messages, mutation, (m, { pos, byte, cut, extra, kind }) => {
        const bytes = encodeMessage(m);
        let mutated: Uint8Array;
        if (kind === 0) {
          mutated = bytes.slice();
          mutated[pos % mutated.length] = byte;
        } else if (kind === 1) mutated = bytes.subarray(0, cut % bytes.length);
        else if (kind === 2) mutated = Uint8Array.from([...bytes, ...extra]);
        else {
          mutated = bytes.slice();
          mutated[pos % mutated.length] ^= 1 << byte % 8;
        }
        expectCodecErrorOrMessage(mutated);
      }),
      { numRuns: 10_000 },
    );
  });

  it('a message claiming a huge count is refused before allocation', () => {
    const before = process.memoryUsage().arrayBuffers;
    // array32 / map32 / bin32 headers claiming 4 billion entries, with no data behind them.
    for (const hex of ['ddffffffff', 'dfffffffff', 'c6ffffffff', '82a17601a174a9707369']) {
      expect(() => decode(Buffer.from(hex, 'hex'))).toThrow(CodecError);
    }
    // A schema-valid hello announcing more items than the limit: refused by the schema.
    const hello = { t: 'psi.hello', suite: 'ristretto255-SHA512', mode: 'intersection', verifiable: false, encoding: 'raw', fpr: 1e-6, total: 2 ** 40, chunk: 10 };
    expect(() => decode(encodeMessage(hello))).toThrow(expect.objectContaining({ code: 'too_large' }));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it('oversized messages are refused by length before parsing', () => {
    const big = new Uint8Array(1024);
    expect(() => decodeMessage(big, schemas, 100)).toThrow(expect.objectContaining({ code: 'too_large' }));
  });

  it('refuses unknown versions, types and fields, non-string keys and __proto__ tricks', () => {
    expect(() => decode(encodeMessage({ t: 'psi.query', seq: 0, blinded: new Uint8Array(), extra: 1 } as never))).toThrow(
      expect.objectContaining({ code: 'bad_field' }),
    );
    expect(() => decode(encodeMessage({ t: 'nope' }))).toThrow(expect.objectContaining({ code: 'unknown_type' }));
    expect(() => decode(encodeMessage({ t: 'toString' }))).toThrow(expect.objectContaining({ code: 'unknown_type' }));
    expect(() => decode(Buffer.from('82a17602a174a3657272', 'hex'))).toThrow(expect.objectContaining({ code: 'bad_version' }));
    expect(() => decode(Buffer.from('8101a174', 'hex'))).toThrow(CodecError);
    const proto = Buffer.concat([Buffer.from('83a17601a174a56572726f72', 'hex'), Buffer.from('a95f5f70726f746f5f5f80', 'hex')]);
    expect(() => decode(proto)).toThrow(expect.objectContaining({ code: 'bad_field' }));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
