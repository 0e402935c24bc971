#!/usr/bin/env node
/** The `contact-psi` command. Each subcommand lives in its own file; this only wires them. */
import { Command } from 'commander';
import { writeVectors } from './vectors.js';

const program = new Command();
program.name('contact-psi').description('Private contact discovery with RFC 9497 OPRF-based PSI').version('0.1.0');

program
  .command('vectors')
  .description('write the protocol known-answer vectors (spec/vectors)')
  .argument('[dir]', 'output directory', 'spec/vectors')
  .action((dir: string) => writeVectors(dir));

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as { code?: string; message?: string };
  console.error(`contact-psi: ${e.code ? `[${e.code}] ` : ''}${e.message ?? String(err)}`);
  process.exit(1);
});
