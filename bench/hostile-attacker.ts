/**
 * The hostile clients of `bench -- hostile` in a process of their own (forked by
 * hostile.ts): node hostile-attacker.js <url> <options JSON> <until ms since epoch>.
 * Reports what each attack saw over IPC and exits.
 */
import { runAttacks, type HostileOptions } from './hostile.js';

const [url, options, until] = process.argv.slice(2);
runAttacks(url, JSON.parse(options) as HostileOptions, Number(until)).then(
  (result) => process.send?.(result, () => process.exit(0)),
  (err: unknown) => {
    process.stderr.write(`attacker failed: ${String(err)}\n`);
    process.exit(1);
  },
);
