/**
 * Turns the rows of a directory file (CSV or JSON, already split into fields) into users.
 * A row with any bad value is skipped whole and reported: importing a user with one of
 * their numbers missing would be a silent partial registration.
 */
import { normalizeEmail } from '../contacts/email.js';
import { toIdentifier } from '../contacts/identifier.js';
import { normalizePhone, type CountryCode } from '../contacts/phone.js';
import { checkSealedLabelSize, parseLabel } from './label.js';
import type { DirectoryUser } from './types.js';
import { compareCodePoints, MAX_IDENTIFIERS_PER_USER, MAX_USER_ID_LENGTH } from './users.js';

export interface DirectoryImportError {
  /** CSV: 1-based record number with the header as row 1 (as a spreadsheet shows it). JSON: 1-based array index. */
  readonly row: number;
  /** CSV only: 1-based line where the record starts (differs from `row` after quoted line breaks). */
  readonly line?: number;
  readonly userId?: string;
  readonly code: string;
  readonly reason: string;
}

/** One row's fields, before any checking. */
export interface RawRow {
  readonly row: number;
  readonly line?: number;
  readonly userId: string;
  readonly phones: readonly string[];
  readonly emails: readonly string[];
  readonly label: string | undefined;
  readonly discoverable: boolean | undefined;
}

/** Longest value quoted back in an error reason. */
const QUOTE_MAX = 64;
const quote = (s: string): string => JSON.stringify(s.length > QUOTE_MAX ? `${s.slice(0, QUOTE_MAX)}…` : s);

export class RowCollector {
  readonly users: DirectoryUser[] = [];
  readonly errors: DirectoryImportError[] = [];
  readonly #userIds = new Set<string>();
  /** identifier -> the row that claimed it first */
  readonly #claimed = new Map<string, number>();

  constructor(private readonly defaultRegion: CountryCode | undefined) {}

  reject(row: number, line: number | undefined, userId: string | undefined, code: string, reason: string): void {
    const error: DirectoryImportError = { row, code, reason };
    this.errors.push({ ...error, ...(line === undefined ? {} : { line }), ...(userId === undefined || userId === '' ? {} : { userId }) });
  }

  add(raw: RawRow): void {
    const fail = (code: string, reason: string) => this.reject(raw.row, raw.line, raw.userId, code, reason);
    const userId = raw.userId.trim();
    if (userId === '') return fail('missing_user_id', 'user_id is empty');
    if (userId.length > MAX_USER_ID_LENGTH) return fail('bad_user_id', `user_id is longer than ${MAX_USER_ID_LENGTH} characters`);
    if (this.#userIds.has(userId)) return fail('duplicate_user', `user_id ${quote(userId)} appeared in an earlier row`);

    const identifiers = new Set<string>();
    for (const phone of raw.phones) {
      const result = normalizePhone(phone, this.defaultRegion);
      if (!result.ok) return fail(result.code, `phone ${quote(phone)}: ${result.reason}`);
      identifiers.add(toIdentifier('tel', result.e164));
    }
    for (const email of raw.emails) {
      const result = normalizeEmail(email);
      if (!result.ok) return fail(result.code, `email ${quote(email)}: ${result.reason}`);
      identifiers.add(toIdentifier('mailto', result.email));
    }
    if (identifiers.size === 0) return fail('no_identifiers', 'no phone number and no e-mail address');
    if (identifiers.size > MAX_IDENTIFIERS_PER_USER) return fail('too_many_identifiers', `more than ${MAX_IDENTIFIERS_PER_USER} identifiers`);
    for (const identifier of identifiers) {
      const first = this.#claimed.get(identifier);
      if (first !== undefined) return fail('identifier_taken', `${identifier} already belongs to the user of row ${first}`);
    }

    let label: Uint8Array = new Uint8Array(0);
    if (raw.label !== undefined) {
      const parsed = parseLabel(raw.label);
      if (!parsed.ok) return fail(parsed.code, parsed.reason);
      label = parsed.label;
    }
    const fits = checkSealedLabelSize(userId, label);
    if (!fits.ok) return fail(fits.code, fits.reason);

    this.#userIds.add(userId);
    for (const identifier of identifiers) this.#claimed.set(identifier, raw.row);
    this.users.push({ userId, identifiers: [...identifiers].sort(compareCodePoints), label, discoverable: raw.discoverable ?? true });
  }
}

/** `a; b;;c` -> ['a', 'b', 'c']: the separator of several phones or e-mails in one cell. */
export function splitList(cell: string): string[] {
  return cell
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
