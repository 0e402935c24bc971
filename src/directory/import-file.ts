/**
 * Directory files for `contact-psi directory import`: CSV or JSON in, users plus a report
 * of every skipped row out. Nothing is dropped silently; the caller decides whether errors
 * abort the import.
 */
import { isSupportedCountry } from 'libphonenumber-js/max';
import { ContactPsiError } from '../errors.js';
import type { CountryCode } from '../contacts/phone.js';
import { collectCsv } from './import-csv.js';
import { collectJson } from './import-json.js';
import { RowCollector, type DirectoryImportError } from './import-rows.js';
import type { DirectoryUser } from './types.js';

export type { DirectoryImportError } from './import-rows.js';
export { DIRECTORY_CSV_HEADER } from './import-csv.js';

export type DirectoryFileFormat = 'csv' | 'json';

export interface DirectoryFileOptions {
  /** 'auto' (default): JSON when the first non-blank character is `[` or `{`, else CSV. */
  readonly format?: DirectoryFileFormat | 'auto';
  /** Region for phone numbers written in national format. */
  readonly defaultRegion?: CountryCode;
  /** Most users (data rows) accepted; more is `too_large`. Default 10,000,000. */
  readonly maxUsers?: number;
}

export interface DirectoryFileResult {
  readonly users: DirectoryUser[];
  readonly errors: DirectoryImportError[];
}

export const DEFAULT_MAX_IMPORT_USERS = 10_000_000;

export function detectDirectoryFormat(text: string): DirectoryFileFormat {
  const first = text.replace(/^\uFEFF/, '').trimStart()[0];
  return first === '[' || first === '{' ? 'json' : 'csv';
}

/**
 * Parses a directory file. Throws for a file that cannot be read at all (`invalid_header`,
 * `invalid_json`, `invalid_format`, `too_large`, `invalid_region`); bad rows are returned in
 * `errors` with their row number, a stable code and the reason.
 */
export function parseDirectoryFile(text: string, options: DirectoryFileOptions = {}): DirectoryFileResult {
  if (typeof text !== 'string') throw new ContactPsiError('invalid_input', 'a directory file is text');
  const { defaultRegion } = options;
  if (defaultRegion !== undefined && !isSupportedCountry(defaultRegion)) {
    throw new ContactPsiError('invalid_region', `unknown default region ${JSON.stringify(String(defaultRegion).slice(0, 8))}`);
  }
  const maxUsers = options.maxUsers ?? DEFAULT_MAX_IMPORT_USERS;
  if (!Number.isSafeInteger(maxUsers) || maxUsers < 0) throw new ContactPsiError('invalid_option', 'maxUsers must be a non-negative integer');
  const format = options.format === undefined || options.format === 'auto' ? detectDirectoryFormat(text) : options.format;
  const collector = new RowCollector(defaultRegion);
  if (format === 'json') collectJson(text, collector, maxUsers);
  else if (format === 'csv') collectCsv(text, collector, maxUsers);
  else throw new ContactPsiError('invalid_option', `unknown directory file format ${String(format)}`);
  return { users: collector.users, errors: collector.errors };
}
