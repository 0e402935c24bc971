import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import { discoveryMessageVectors, messageVectors, sessionVectors } from '../src/protocol/known-answers.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../src/protocol/discovery/messages.js';
import { DEFAULT_LIMITS } from '../src/protocol/limits.js';
import { psiSchemas } from '../src/protocol/messages.js';

const read = (name: string) => JSON.parse(readFileSync(new URL(`../spec/vectors/${name}`, import.meta.url), 'utf8'));
const fromHex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));

describe('spec/vectors known answers', () => {
  it('messages.json: each message encodes to the recorded bytes and decodes back', () => {
    const recorded = read('messages.json');
    expect(messageVectors()).toEqual(recorded);
    const schemas = psiSchemas(DEFAULT_LIMITS);
    for (const v of recorded) {
      const decoded = decodeMessage(fromHex(v.encoded), schemas, DEFAULT_LIMITS.maxMessageBytes);
      expect(encodeMessage(decoded)).toEqual(fromHex(v.encoded));
    }
  });

  it('discovery-messages.json: each directory-discovery message encodes to the recorded bytes and decodes back', () => {
    const recorded = read('discovery-messages.json');
    expect(discoveryMessageVectors()).toEqual(recorded);
    const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
    for (const v of recorded) {
      const decoded = decodeMessage(fromHex(v.encoded), schemas, DEFAULT_DISCOVERY_LIMITS.maxMessageBytes);
      expect(encodeMessage(decoded)).toEqual(fromHex(v.encoded));
    }
  });

  it('sessions.json: deterministic sessions reproduce every recorded message and result', () => {
    expect(sessionVectors()).toEqual(read('sessions.json'));
  });
});
