/**
 * writeFileAtomic writes a record's parts (header, payload, checksum) with one writev
 * instead of first copying them into one buffer: the file must hold exactly the parts in
 * order, for any number of parts (the single-part and many-part paths write as before),
 * empty parts included, and be created 0600.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicAsync } from '../src/client/local-file.js';

const dir = mkdtempSync(join(tmpdir(), 'writev-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('writes the parts in order, whatever their number and sizes', () => {
    let n = 0;
    fc.assert(
      fc.property(fc.array(fc.oneof({ arbitrary: fc.uint8Array({ maxLength: 40 }), weight: 12 }, { arbitrary: fc.uint8Array({ minLength: 70_000, maxLength: 90_000 }), weight: 1 }), { maxLength: 20 }), (parts) => {
        const path = join(dir, `f${n++}`);
        writeFileAtomic(path, parts);
        expect(readFileSync(path).equals(Buffer.concat(parts))).toBe(true);
        expect(statSync(path).mode & 0o777).toBe(0o600);
      }),
      { numRuns: 25 },
    );
  });

  it('on the thread pool too (writeFileAtomicAsync), several files at once', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 5 }), { minLength: 1, maxLength: 4 }), async (files) => {
        const paths = files.map(() => join(dir, 'async', `f${n++}`));
        await Promise.all(files.map((parts, i) => writeFileAtomicAsync(paths[i], parts)));
        files.forEach((parts, i) => {
          expect(readFileSync(paths[i]).equals(Buffer.concat(parts))).toBe(true);
          expect(statSync(paths[i]).mode & 0o777).toBe(0o600);
        });
      }),
      { numRuns: 15 },
    );
  });
});
