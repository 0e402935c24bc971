/**
 * Issue 12 §3: the WebAssembly modules travel inside the JavaScript (base64 modules made by
 * scripts/wasm-inline.mjs), so a bundle needs no `./wasm/*.wasm` beside it; and when 'auto'
 * still ends up on a slower path, one warning says so through an injectable logger.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeWasmBase64 } from '../src/group/wasm-bytes.js';
import { WASM_BASE64 as MSM_BASE64 } from '../src/group/wasm/ristretto255.wasm-bytes.js';
import { WASM_BASE64 as X4_BASE64 } from '../src/group/wasm/ristretto255-x4.wasm-bytes.js';
import { resetSlowPathWarnings, setGroupLogger, warnSlowPath, type GroupLogger } from '../src/group/slow-path.js';

describe('inlined WebAssembly bytes', () => {
  it('decodeWasmBase64 is the inverse of base64 for every byte string (lengths 0..3 mod 3 all reached)', () => {
    const lengths = new Set<number>();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        lengths.add(bytes.length % 3);
        expect(decodeWasmBase64(Buffer.from(bytes).toString('base64'))).toEqual(new Uint8Array(bytes));
      }),
      { numRuns: 500 },
    );
    expect(lengths).toEqual(new Set([0, 1, 2]));
  });

  it('refuses what is not padded base64 with a RangeError, never a wrong module', () => {
    for (const bad of ['A', 'AB=C', 'ab$d', 'AAA\u00e9', '====']) expect(() => decodeWasmBase64(bad)).toThrow(RangeError);
  });

  it('the generated modules hold exactly the built .wasm files (a stale inline module would run old code)', () => {
    for (const [name, b64] of [['ristretto255', MSM_BASE64], ['ristretto255-x4', X4_BASE64]] as const) {
      const file = readFileSync(new URL(`../src/group/wasm/${name}.wasm`, import.meta.url));
      expect(Buffer.from(decodeWasmBase64(b64)).equals(file)).toBe(true);
    }
  });

  it('the loaders neither fetch nor locate a file: no import.meta.url, no fs, no fetch in them', () => {
    for (const file of ['wasm-msm.ts', 'wasm-x4.ts', 'wasm-bytes.ts']) {
      const source = readFileSync(new URL(`../src/group/${file}`, import.meta.url), 'utf8');
      expect(source).not.toMatch(/import\.meta\.url|node:fs|fetch\(/);
    }
  });
});

describe('slow-path warning', () => {
  afterEach(() => {
    setGroupLogger(globalThis.console);
    resetSlowPathWarnings();
    vi.doUnmock('../src/group/wasm-x4.js');
    vi.resetModules();
  });

  it('is given once per reason, to the injected logger; null silences it; a throwing logger is ignored', () => {
    const seen: string[] = [];
    setGroupLogger({ warn: (m) => seen.push(m) });
    warnSlowPath('simd_unavailable', 'a');
    warnSlowPath('simd_unavailable', 'a again');
    warnSlowPath('msm_unavailable', 'b');
    expect(seen).toEqual(['contact-psi: a [simd_unavailable]', 'contact-psi: b [msm_unavailable]']);
    resetSlowPathWarnings();
    setGroupLogger(null);
    warnSlowPath('simd_unavailable', 'c');
    expect(seen).toHaveLength(2);
    setGroupLogger({ warn: () => { throw new Error('logger down'); } });
    expect(() => warnSlowPath('sodium_unavailable', 'd')).not.toThrow();
  });

  it('loadGroup("auto") without the SIMD module warns once (was: silent), and with it says nothing', async () => {
    // With the module (this build): no warning.
    {
      const { loadGroup } = await import('../src/group/select.js');
      const slow = await import('../src/group/slow-path.js');
      const seen: string[] = [];
      slow.setGroupLogger({ warn: (m) => seen.push(m) } satisfies GroupLogger);
      await loadGroup('ristretto255', 'auto');
      expect(seen).toEqual([]);
    }
    // Without it (a runtime without WebAssembly SIMD): one warning naming the reason, however many loads.
    vi.resetModules();
    vi.doMock('../src/group/wasm-x4.js', () => ({ loadWasmX4: async () => null }));
    const { loadGroup } = await import('../src/group/select.js');
    const { loadSodiumRistretto255 } = await import('../src/group/sodium.js');
    const slow = await import('../src/group/slow-path.js');
    const seen: string[] = [];
    slow.setGroupLogger({ warn: (m) => seen.push(m) });
    await loadGroup('ristretto255', 'auto');
    await loadSodiumRistretto255();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/SIMD.*\[simd_unavailable\]/);
    // An explicit choice of the slower path is not a warning.
    await loadSodiumRistretto255({ simd: 'off' });
    expect(seen).toHaveLength(1);
  });
});
