import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openSigned } from '../src/protocol/discovery/announcement.js';
import { generateVectors, type VerifiabilityVectors } from './helpers/verify-vectors.js';

const jsonPath = new URL('../spec/vectors/verifiability.json', import.meta.url);
const specPath = new URL('../spec/verifiability.md', import.meta.url);

describe('verifiability test vectors', () => {
  const generated = generateVectors();
  if (process.env.UPDATE_VECTORS === '1') writeFileSync(jsonPath, `${JSON.stringify(generated, null, 1)}\n`);
  const stored = JSON.parse(readFileSync(jsonPath, 'utf8')) as VerifiabilityVectors;

  it('spec/vectors/verifiability.json is what the code computes', () => {
    expect(generated).toEqual(stored);
  });

  it('the stored envelopes verify under the stored identity key', () => {
    const identityKey = new Uint8Array(Buffer.from(stored.identity.publicKey, 'hex'));
    for (const e of stored.entries) expect(openSigned(new Uint8Array(Buffer.from(e.envelope, 'hex')), { identityKey }).body).toEqual(new Uint8Array(Buffer.from(e.body, 'hex')));
  });

  it('spec/verifiability.md quotes the vectors it shows (every commitment, key, signature and blind secret)', () => {
    const spec = readFileSync(specPath, 'utf8').replace(/\s+/g, '');
    const quoted = [
      ...stored.commitment.map((c) => c.digest),
      stored.identity.publicKey,
      ...stored.entries.flatMap((e) => [e.body, e.signature, e.entryHash]),
      ...stored.blindSecret.map((b) => b.blindSecret),
    ];
    for (const value of quoted) expect(spec, value).toContain(value);
  });
});
