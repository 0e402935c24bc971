// `npm test`: runs the whole vitest suite with the JSON reporter and prints, as its last
// line, "N passed, N failed, N skipped" (CI reads it). The exit status is non-zero when
// anything failed, or when anything was skipped without a reason.
//
// Skips (issue 9 §6): a skipped test proves nothing, so each one must be named, with its
// reason, in test/allowed-skips.json:
//
//   [{ "file": "test/x.test.ts", "test": "<full name, or a prefix of it>", "reason": "..." }]
//
// "full name" is vitest's: the describe titles and the test title joined by spaces. An
// entry matches a skipped, todo or pending test of that file whose full name starts with
// `test`. Every skip is printed with its reason; a skip that no entry names counts as a
// failure ("skipped without a reason") and is listed. An entry must give a non-empty reason.
// Example: test/directory-keys.test.ts skips its file-mode test on Windows (no POSIX modes).
//
// dist/ is rebuilt before the tests when its sources changed (vitest globalSetup,
// test/helpers/worker-build.ts); here type errors in that build also fail the run
// (CONTACT_PSI_STRICT_BUILD=1), as they fail `npm ci`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const allowListPath = join(root, 'test', 'allowed-skips.json');
const out = join(mkdtempSync(join(tmpdir(), 'contact-psi-ci-')), 'vitest.json');

/** The allow-list, checked: every entry names a file, a test and a reason. */
function readAllowList() {
  const entries = JSON.parse(readFileSync(allowListPath, 'utf8'));
  if (!Array.isArray(entries)) throw new Error(`${allowListPath}: expected an array`);
  for (const e of entries) {
    for (const key of ['file', 'test', 'reason']) {
      if (typeof e?.[key] !== 'string' || e[key].trim() === '') {
        throw new Error(`${allowListPath}: entry ${JSON.stringify(e)} lacks a non-empty "${key}"`);
      }
    }
  }
  return entries;
}

const SKIPPED = new Set(['skipped', 'pending', 'todo', 'disabled']);

/** Splits the report's skipped tests into those the allow-list names (with reasons) and the rest. */
function classifySkips(report, allowList) {
  const allowed = [];
  const unexplained = [];
  for (const file of report.testResults ?? []) {
    const path = relative(root, file.name).split('\\').join('/');
    for (const a of file.assertionResults ?? []) {
      if (!SKIPPED.has(a.status)) continue;
      const fullName = a.fullName ?? [...(a.ancestorTitles ?? []), a.title].join(' ');
      const entry = allowList.find((e) => e.file === path && fullName.startsWith(e.test));
      if (entry) allowed.push({ path, fullName, reason: entry.reason });
      else unexplained.push({ path, fullName });
    }
  }
  return { allowed, unexplained };
}

const run = spawnSync(
  'npx',
  // Extra arguments (test files, -t filters) go to vitest: `npm test -- test/x.test.ts`.
  ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)],
  { stdio: 'inherit', env: { ...process.env, CONTACT_PSI_STRICT_BUILD: '1' } },
);
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(out, 'utf8'));
  passed = report.numPassedTests ?? 0;
  // A test file that failed to load has no failed test of its own: count it once.
  const brokenFiles = (report.testResults ?? []).filter(
    (file) => file.status === 'failed' && !(file.assertionResults ?? []).some((a) => a.status === 'failed'),
  ).length;
  failed = (report.numFailedTests ?? 0) + brokenFiles;
  const { allowed, unexplained } = classifySkips(report, readAllowList());
  skipped = allowed.length + unexplained.length;
  for (const s of allowed) console.log(`skipped (allowed): ${s.path} > ${s.fullName}: ${s.reason}`);
  for (const s of unexplained) console.error(`SKIPPED WITHOUT A REASON: ${s.path} > ${s.fullName} (name it in test/allowed-skips.json)`);
  failed += unexplained.length;
} catch (err) {
  console.error(`could not read the vitest JSON report or test/allowed-skips.json: ${err}`);
  failed += 1;
}
if (run.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 ? 0 : 1);
