/**
 * Import options and their limits. Imports run on phones, often on files that came from
 * elsewhere; the limits bound memory and CPU before the work is done, and exceeding one is
 * an error (`too_large`) rather than a silent truncation of the address book.
 */
import { ContactPsiError } from '../errors.js';
import { isSupportedCountry } from 'libphonenumber-js/max';
import type { CountryCode } from './phone.js';

export interface ImportOptions {
  /** Region for numbers written in national format (e.g. `CH` for `079 123 45 67`). */
  defaultRegion?: CountryCode;
  /** Longest input accepted, in UTF-16 code units. Default 64 Mi (vCard exports with photos are large). */
  maxInputLength?: number;
  /** Most entries (vCards or CSV data rows). Default 100 000. */
  maxContacts?: number;
  /** Most phone and e-mail values examined, valid or not. Default 1 000 000. */
  maxValues?: number;
}

export const DEFAULT_IMPORT_LIMITS = {
  maxInputLength: 64 * 1024 * 1024,
  maxContacts: 100_000,
  maxValues: 1_000_000,
} as const;

export interface ResolvedImportOptions {
  readonly defaultRegion: CountryCode | undefined;
  readonly maxInputLength: number;
  readonly maxContacts: number;
  readonly maxValues: number;
}

/**
 * Checks the options and the input length before anything is parsed. A bad default
 * region is a configuration error, so it throws instead of marking every entry invalid.
 */
export function resolveImport(text: string, options: ImportOptions = {}): ResolvedImportOptions {
  if (typeof text !== 'string') throw new ContactPsiError('invalid_input', 'address book input is not a string');
  const resolved = {
    defaultRegion: options.defaultRegion,
    maxInputLength: limit(options.maxInputLength, DEFAULT_IMPORT_LIMITS.maxInputLength, 'maxInputLength'),
    maxContacts: limit(options.maxContacts, DEFAULT_IMPORT_LIMITS.maxContacts, 'maxContacts'),
    maxValues: limit(options.maxValues, DEFAULT_IMPORT_LIMITS.maxValues, 'maxValues'),
  };
  if (resolved.defaultRegion !== undefined && !isSupportedCountry(resolved.defaultRegion)) {
    throw new ContactPsiError('invalid_region', `unknown default region ${JSON.stringify(String(resolved.defaultRegion).slice(0, 8))}`);
  }
  if (text.length > resolved.maxInputLength) {
    throw new ContactPsiError('too_large', `input is ${text.length} characters, more than maxInputLength ${resolved.maxInputLength}`);
  }
  return resolved;
}

function limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new ContactPsiError('invalid_option', `${name} must be a non-negative integer`);
  return value;
}
