/**
 * Command-line option values, checked where they are read: a bad value is an
 * `invalid_option` error naming the option and what it takes, before anything runs (a
 * malformed `--pin` used to surface as `proof_invalid` from the server's first answer).
 *
 * Each checker returns the value normalized, as a string, so the commands keep their
 * string options; `asParser` turns one into a commander argument parser (main.ts), which
 * commander does not run on defaults (those are written correctly in main.ts).
 */
import { isSupportedCountry } from 'libphonenumber-js/max';
import { regionInvalid, regionSyntaxValue } from './option-syntax.js';

// The checkers without libphonenumber live in option-syntax.ts (main.ts loads them up front).
export * from './option-syntax.js';

/**
 * A region (ISO 3166-1 alpha-2, as libphonenumber knows them) for numbers written
 * nationally; case-insensitive (`ch` is CH).
 */
export function regionValue(value: string, name = '--region'): string {
  const upper = regionSyntaxValue(value, name);
  if (!isSupportedCountry(upper)) throw regionInvalid(name, value);
  return upper;
}

