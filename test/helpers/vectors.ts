import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared RFC vectors live beside the project (../shared/vectors), read in place. */
export const sharedVectorsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'vectors');
export const haveSharedVectors = existsSync(sharedVectorsDir);
if (!haveSharedVectors) {
  console.warn(`RFC vector tests skipped: ${sharedVectorsDir} is absent (differential properties still run)`);
}

export function readSharedVectors<T>(file: string): T {
  return JSON.parse(readFileSync(join(sharedVectorsDir, file), 'utf8')) as T;
}

export const hex = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
};
export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
