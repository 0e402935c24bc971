/**
 * The verifiability test vectors (spec/verifiability.md §8, spec/vectors/verifiability.json):
 * a deterministic function of fixed inputs, so any implementation can reproduce them.
 * Regenerate with `UPDATE_VECTORS=1 npx vitest run test/verify-vectors.test.ts`.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { entryHash, GENESIS_PREV, identityPublicKey, signStatement } from '../../src/protocol/discovery/announcement.js';
import { deriveBlindSecret } from '../../src/protocol/discovery/blind-secret.js';
import { applyDelta, commitPrefixes } from '../../src/protocol/discovery/commitment.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const label = (s: string) => sha256(new TextEncoder().encode(s));

export interface VerifiabilityVectors {
  commitment: { name: string; prefixes: string[]; added?: string[]; removed?: string[]; count: number; digest: string }[];
  identity: { secretKey: string; publicKey: string };
  entries: { name: string; body: string; signature: string; envelope: string; entryHash: string }[];
  blindSecret: { deviceSecret: string; identityKey: string; account: string; blindSecret: string }[];
}

export function generateVectors(): VerifiabilityVectors {
  const p = ['0001020304050607', '08090a0b0c0d0e0f', 'ffffffffffffffff'];
  const pack = (list: string[]) => unhex(list.join(''));
  const commitment: VerifiabilityVectors['commitment'] = [];
  for (const [name, prefixes] of [
    ['empty', []],
    ['one', [p[0]]],
    ['three', p],
  ] as const) {
    const c = commitPrefixes(pack([...prefixes]));
    commitment.push({ name, prefixes: [...prefixes], count: c.count, digest: hex(c.digest) });
  }
  const moved = applyDelta(commitPrefixes(pack(p)), pack(['1111111111111111']), pack([p[1]]));
  commitment.push({ name: 'three, then delta', prefixes: p, added: ['1111111111111111'], removed: [p[1]], count: moved.count, digest: hex(moved.digest) });

  const secretKey = label('contact-psi verifiability vector: identity');
  const publicKey = identityPublicKey(secretKey);
  const key = signStatement(
    { kind: 'epoch-key', seq: 0, prev: GENESIS_PREV, suite: 'ristretto255-SHA512', epoch: 1, publicKey: unhex('e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76'), validFrom: 1_767_225_600_000 },
    secretKey,
  );
  const three = commitPrefixes(pack(p));
  const ann = signStatement(
    { kind: 'announcement', seq: 1, prev: entryHash(key.body), epoch: 1, version: 7, count: three.count, commitment: three.digest, encoding: 'raw', snapshotDigest: label('snapshot') },
    secretKey,
  );
  const entries = [
    ['epoch key statement (seq 0)', key],
    ['announcement (seq 1)', ann],
  ] as const;
  const device = label('contact-psi verifiability vector: device secret');
  return {
    commitment,
    identity: { secretKey: hex(secretKey), publicKey: hex(publicKey) },
    entries: entries.map(([name, s]) => ({ name, body: hex(s.body), signature: hex(s.signature), envelope: hex(s.bytes), entryHash: hex(entryHash(s.body)) })),
    blindSecret: ['alice', 'bob'].map((account) => ({ deviceSecret: hex(device), identityKey: hex(publicKey), account, blindSecret: hex(deriveBlindSecret(device, publicKey, account)) })),
  };
}
