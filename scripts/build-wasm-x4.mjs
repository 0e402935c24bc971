// Compiles the four-lane WebAssembly SIMD ristretto255 multiplier (asm/ristretto255-x4) to
// src/group/wasm/ristretto255-x4.wasm, next to the loader (src/group/wasm-x4.ts) that
// vitest runs from source, and copies it to dist/src/group/wasm/ when dist/ exists (the
// compiled package). Both copies are build output (.gitignore: src/group/wasm/*.wasm).
import asc from 'assemblyscript/asc';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'asm', 'ristretto255-x4', 'index.ts');
const out = join(root, 'src', 'group', 'wasm', 'ristretto255-x4.wasm');
const dist = join(root, 'dist', 'src', 'group', 'wasm', 'ristretto255-x4.wasm');

mkdirSync(dirname(out), { recursive: true });
const { error, stderr } = await asc.main([
  entry,
  '--outFile', out,
  '--enable', 'simd', // the whole point: i32x4 lanes, i64x2.extmul_{low,high}_i32x4_s
  '--optimizeLevel', '3',
  '--shrinkLevel', '0',
  '--noAssert',
  '--runtime', 'stub', // no GC, no managed allocation: static scratch + a caller-managed I/O area
  '--use', 'abort=', // nothing can abort: no env import, so the module instantiates with {}
  '--disableWarning', '112', // "v128 exchange": no v128 crosses the module boundary, internal helpers only
]);
if (error) {
  process.stderr.write(stderr.toString());
  console.error(`build-wasm-x4: ${error.message}`);
  process.exit(1);
}
if (existsSync(join(root, 'dist'))) {
  mkdirSync(dirname(dist), { recursive: true });
  copyFileSync(out, dist);
}
