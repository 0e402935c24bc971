import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Modes } from '../src/oprf/index.js';
import { decodeMessage } from '../src/protocol/codec.js';
import { DEFAULT_LIMITS } from '../src/protocol/limits.js';
import { psiSchemas } from '../src/protocol/messages.js';
import { plainIntersection, runPsi } from './helpers/psi.js';

const schemas = psiSchemas(DEFAULT_LIMITS);

describe('cardinality mode', () => {
  it('gives the size of the intersection and nothing else', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 4 }), { maxLength: 40 }), fc.array(fc.string({ maxLength: 4 }), { maxLength: 40 }), fc.integer(), (client, server, seed) => {
        const out = runPsi({ client, server, seed, options: { mode: 'cardinality', chunkSize: 5 } });
        const distinctMatches = new Set(plainIntersection(client, server).map((i) => client[i])).size;
        expect(out.clientResult).toEqual({ mode: 'cardinality', count: distinctMatches, serverCount: new Set(server).size });
      }),
      { numRuns: 10 },
    );
  });

  it('returns evaluations in an order unlinkable to the request', () => {
    // Intercept the evaluations and check they are a permutation of k*B_i that is not the
    // identity permutation (for 32 items a uniform shuffle is the identity with p = 1/32!).
    const client = Array.from({ length: 32 }, (_, i) => `c${i}`);
    const requests: Uint8Array[] = [];
    const answers: Uint8Array[] = [];
    const out = runPsi({
      client,
      server: client.slice(0, 10),
      options: { mode: 'cardinality' },
      hooks: {
        toServer: (b) => (requests.push(b), b),
        toClient: (b) => (answers.push(b), b),
      },
    });
    expect(out.clientResult).toMatchObject({ count: 10 });
    const query = decodeMessage<{ t: string; blinded: Uint8Array }>(requests[1], schemas, DEFAULT_LIMITS.maxMessageBytes);
    const evaluation = decodeMessage<{ t: string; evaluated: Uint8Array }>(answers[1], schemas, DEFAULT_LIMITS.maxMessageBytes);
    const { suite } = out;
    const chunk = (p: Uint8Array) => Array.from({ length: 32 }, (_, i) => Buffer.from(p.subarray(i * 32, i * 32 + 32)).toString('hex'));
    const k = suite.group.scalar.fromBytes((out.serverSession as unknown as { prepared: { keys: { secretKey: Uint8Array } } }).prepared.keys.secretKey);
    const inRequestOrder = chunk(suite.group.multiplyPacked(k, query.blinded));
    const got = chunk(evaluation.evaluated);
    expect([...got].sort()).toEqual([...inRequestOrder].sort());
    expect(got).not.toEqual(inRequestOrder);
  });

  it('is refused in verifiable mode', () => {
    expect(() => runPsi({ client: ['a'], server: ['a'], mode: Modes.VOPRF, options: { mode: 'cardinality' } })).toThrow(
      expect.objectContaining({ code: 'unsupported' }),
    );
  });
});
