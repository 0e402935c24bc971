/**
 * Known-answer tests from the RFCs, on every backend that implements the group:
 * RFC 9496 Appendix A (ristretto255), RFC 9380 Appendix J.1.1 (P256_XMD:SHA-256_SSWU_RO_)
 * and K.1 / K.3 (expand_message_xmd), and the group-level part of RFC 9497 Appendix A
 * (BlindedElement = Blind * HashToGroup(Input), EvaluationElement = skSm * BlindedElement),
 * which is the only published KAT for hash_to_ristretto255. The vectors are in the repository
 * (test/vectors/rfc) and never skipped; test/group-backends.test.ts also checks the backends
 * against each other.
 */
import { ristretto255_hasher } from '@noble/curves/ed25519.js';
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { GroupError } from '../src/errors.js';
import { nobleP256, nobleRistretto255 } from '../src/group/noble.js';
import { loadSodiumPrimitives, loadSodiumRistretto255, type SodiumPrimitives } from '../src/group/sodium.js';
import type { Group } from '../src/group/types.js';
import { hex, readRfcVectors, toHex } from './helpers/vectors.js';

interface Rfc9496 {
  generatorMultiples: { encodings: string[] };
  invalidEncodings: { encodings: string[] };
  elementDerivation: { vectors: { label: string; input: string; output: string }[] };
}
interface H2cSuite {
  dst: string;
  vectors: { msg: string; P: { x: string; y: string } }[];
}
interface XmdFile {
  DST: string;
  tests: { msg: string; len_in_bytes: string; uniform_bytes: string }[];
}
interface OprfSuite {
  identifier: 'ristretto255-SHA512' | 'P256-SHA256';
  mode: number;
  groupDST: string;
  skSm: string;
  vectors: { Input: string; Blind: string; BlindedElement: string; EvaluationElement: string }[];
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (err) {
    return err instanceof GroupError ? err.code : 'error';
  }
};

const MODES = ['raw', 'wrapper'] as const;
const ristrettoGroups: Record<string, Group> = { noble: nobleRistretto255 };
const sodiumPrims: Partial<Record<(typeof MODES)[number], SodiumPrimitives>> = {};
beforeAll(async () => {
  for (const mode of MODES) {
    ristrettoGroups[`sodium-${mode}`] = await loadSodiumRistretto255({ mode });
    sodiumPrims[mode] = await loadSodiumPrimitives({ mode });
  }
});
const BACKENDS = ['noble', 'sodium-raw', 'sodium-wrapper'];

describe('RFC 9496 Appendix A: ristretto255', () => {
  const v = readRfcVectors<Rfc9496>('rfc9496-ristretto255.json');

  describe.each(BACKENDS)('%s', (name) => {
    it('A.1: encodings of 1..15 x generator, and each decodes', () => {
      const g = ristrettoGroups[name];
      const encodings = v.generatorMultiples.encodings;
      expect(encodings).toHaveLength(16);
      for (let i = 1; i < 16; i++) {
        expect(toHex(g.multiplyBase(BigInt(i)))).toBe(encodings[i]);
        expect(codeOf(() => g.validateElement(hex(encodings[i])))).toBe('ok');
      }
      expect(toHex(g.generator)).toBe(encodings[1]);
    });

    it('A.1: 0 x generator is the identity (all zero), which the API refuses', () => {
      const g = ristrettoGroups[name];
      const zero = v.generatorMultiples.encodings[0];
      expect(zero).toBe('00'.repeat(32));
      // RFC 9497 §3.3: never accepted from the wire, never produced (0 is not a valid scalar).
      expect(codeOf(() => g.validateElement(hex(zero)))).toBe('identity_element');
      expect(codeOf(() => g.multiplyBase(0n))).not.toBe('ok');
    });

    it('A.2: every invalid encoding is rejected as bad_element', () => {
      const g = ristrettoGroups[name];
      const bad = v.invalidEncodings.encodings;
      expect(bad.length).toBeGreaterThanOrEqual(28);
      for (const e of bad) expect([e, codeOf(() => g.validateElement(hex(e)))]).toEqual([e, 'bad_element']);
    });
  });

  it('A.3: element derivation (one-way map of SHA-512(label)), noble and both libsodium paths', () => {
    for (const t of v.elementDerivation.vectors) {
      expect(toHex(sha512(utf8(t.label)))).toBe(t.input);
      expect(ristretto255_hasher.deriveToCurve!(hex(t.input)).toHex()).toBe(t.output);
      for (const mode of MODES) expect(toHex(sodiumPrims[mode]!.fromHash(hex(t.input)))).toBe(t.output);
    }
  });
});

describe('RFC 9380 Appendix J.1.1: P256_XMD:SHA-256_SSWU_RO_', () => {
  it('hashToGroup gives the compressed expected point (noble, the only P-256 backend)', () => {
    const suite = readRfcVectors<H2cSuite>('rfc9380-P256_XMD-SHA-256_SSWU_RO_.json');
    const dst = utf8(suite.dst);
    expect(suite.vectors.length).toBeGreaterThanOrEqual(5);
    for (const t of suite.vectors) {
      const x = t.P.x.replace(/^0x/, '').padStart(64, '0');
      const yOdd = BigInt(t.P.y) & 1n;
      const compressed = (yOdd ? '03' : '02') + x; // SEC1 §2.3.3
      expect([t.msg, toHex(nobleP256.hashToGroup(utf8(t.msg), dst))]).toEqual([t.msg, compressed]);
    }
  });
});

describe('RFC 9380 Appendix K: expand_message_xmd', () => {
  const run = (file: string, expand: (msg: Uint8Array, dst: Uint8Array, len: number) => Uint8Array) => {
    const xmd = readRfcVectors<XmdFile>(file);
    expect(xmd.tests.length).toBeGreaterThanOrEqual(10);
    for (const t of xmd.tests) {
      const out = expand(utf8(t.msg), utf8(xmd.DST), Number(t.len_in_bytes));
      expect([t.msg, t.len_in_bytes, toHex(out)]).toEqual([t.msg, t.len_in_bytes, t.uniform_bytes]);
    }
  };

  it('K.1 SHA-256 (used by P-256 hashing): noble', () => {
    run('rfc9380-expand_message_xmd_SHA256_38.json', (m, d, n) => expand_message_xmd(m, d, n, sha256));
  });
  it('K.3 SHA-512 (used by ristretto255 hashing): noble', () => {
    run('rfc9380-expand_message_xmd_SHA512_38.json', (m, d, n) => expand_message_xmd(m, d, n, sha512));
  });
  it.each(MODES)('K.3 SHA-512: libsodium %s path', (mode) => {
    run('rfc9380-expand_message_xmd_SHA512_38.json', (m, d, n) => sodiumPrims[mode]!.expandXmd(m, d, n));
  });
});

describe('RFC 9497 Appendix A: group operations of the OPRF vectors', () => {
  const suites = readRfcVectors<OprfSuite[]>('rfc9497-oprf.json');
  const groupsFor = (id: OprfSuite['identifier']): [string, () => Group][] =>
    id === 'P256-SHA256'
      ? [['noble', () => nobleP256]]
      : BACKENDS.map((name) => [name, () => ristrettoGroups[name]] as [string, () => Group]);

  for (const s of suites) {
    for (const [name, group] of groupsFor(s.identifier)) {
      it(`${s.identifier} mode ${s.mode} (${name}): Blind * HashToGroup(Input), skSm * BlindedElement`, () => {
        const g = group();
        const dst = hex(s.groupDST);
        for (const v of s.vectors) {
          const inputs = v.Input.split(',').map(hex);
          const blinds = v.Blind.split(',').map((b) => g.scalar.fromBytes(hex(b)));
          const blinded = g.multiplyEach(blinds, g.hashToGroupBatch(inputs, dst));
          expect(toHex(blinded)).toBe(v.BlindedElement.split(',').join(''));
          // POPRF (mode 2) evaluates with a tweaked key, so only OPRF and VOPRF use skSm directly.
          if (s.mode !== 2) expect(toHex(g.multiplyPacked(g.scalar.fromBytes(hex(s.skSm)), blinded))).toBe(v.EvaluationElement.split(',').join(''));
        }
      });
    }
  }
});
