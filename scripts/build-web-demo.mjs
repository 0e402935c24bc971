// Bundles the demo web page's script (src/browser/demo/page.ts, compiled in dist/) with
// esbuild into dist/src/browser/demo/page.bundle.js, which `contact-psi demo --web` serves
// from an installed package (no esbuild there). Runs after tsc in `npm run build`.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleDemoPage, PREBUILT_BUNDLE } from '../dist/src/cli/demo-web-bundle.js';

const code = await bundleDemoPage();
writeFileSync(PREBUILT_BUNDLE, code);
console.log(`build-web-demo: ${fileURLToPath(PREBUILT_BUNDLE)} (${code.length} bytes)`);
