/**
 * The demo page's script as one ES module: src/browser/demo/page.ts and what it imports of
 * contact-psi/browser, bundled by esbuild for browsers. `npm run build` writes it to
 * dist/src/browser/demo/page.bundle.js (scripts/build-web-demo.mjs), so an installed
 * package serves it without esbuild; in a checkout with esbuild (a devDependency) the demo
 * bundles the current sources at start instead, so it never serves a stale build.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The compiled page script (dist/src/browser/demo/page.js). */
const PAGE_ENTRY = new URL('../browser/demo/page.js', import.meta.url);
export const PREBUILT_BUNDLE = new URL('../browser/demo/page.bundle.js', import.meta.url);
/** A variable, so that TypeScript and bundlers do not require the devDependency. */
const ESBUILD = 'esbuild';

export interface PageBundle {
  code: string;
  /** Where it came from: bundled now, or the build's file. */
  source: 'esbuild' | 'prebuilt';
}

/** Bundles the page with esbuild (minified ES2022 module). Rejects when esbuild is not installed. */
export async function bundleDemoPage(entry: URL = PAGE_ENTRY): Promise<string> {
  const esbuild = (await import(ESBUILD)) as typeof import('esbuild');
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
    // The Node-only branch of the WebSocket client (a dynamic import of ws) is never taken in a page.
    external: ['ws', 'node:*'],
  });
  return result.outputFiles[0].text;
}

/** The page script: bundled now when esbuild is there, else the prebuilt file. */
export async function demoPageBundle(): Promise<PageBundle> {
  try {
    return { code: await bundleDemoPage(), source: 'esbuild' };
  } catch (bundleError) {
    try {
      return { code: await readFile(PREBUILT_BUNDLE, 'utf8'), source: 'prebuilt' };
    } catch {
      throw new Error(`the demo page script is missing (${fileURLToPath(PREBUILT_BUNDLE)}): run \`npm run build\` (esbuild: ${(bundleError as Error).message})`);
    }
  }
}
