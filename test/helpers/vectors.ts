import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The RFC 9497 / 9496 / 9380 appendix vectors, copied into the repository (test/vectors/rfc,
 * see its README) so every clone runs them. A missing file is an error, never a skip: a
 * conformance test that quietly runs nothing proves nothing.
 */
export const rfcVectorsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'vectors', 'rfc');

export function readRfcVectors<T>(file: string): T {
  const path = join(rfcVectorsDir, file);
  if (!existsSync(path)) throw new Error(`RFC vector file missing: ${path} (it is part of the repository)`);
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export const hex = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
};
export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
