// Compiles the AssemblyScript MSM (asm/ristretto255) to src/group/wasm/ristretto255.wasm,
// next to the loader that vitest runs from source, and copies it to dist/src/group/wasm/
// for the compiled package. Both copies are build output (.gitignore). Runs as the first
// step of `npm run build`, so `npm ci` (prepare) produces them on a clean checkout.
import asc from 'assemblyscript/asc';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'asm', 'ristretto255', 'index.ts');
const out = join(root, 'src', 'group', 'wasm', 'ristretto255.wasm');
const dist = join(root, 'dist', 'src', 'group', 'wasm', 'ristretto255.wasm');

mkdirSync(dirname(out), { recursive: true });
const { error, stderr } = await asc.main([
  entry,
  '--outFile', out,
  '--optimizeLevel', '3',
  '--shrinkLevel', '0', // speed over size: the module is ~18 KB either way
  '--noAssert',
  '--runtime', 'stub', // no GC: the module manages its linear memory itself (asm/ristretto255/memory.ts)
  '--converge',
]);
if (error) {
  process.stderr.write(stderr.toString());
  console.error(`build-wasm: ${error.message}`);
  process.exit(1);
}
mkdirSync(dirname(dist), { recursive: true });
copyFileSync(out, dist);
