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

/** One record of a file as the row checks take it, a blank line, or a record refused before them. */
export type SourceRecord =
  | { readonly kind: 'row'; readonly raw: RawRow }
  | { readonly kind: 'blank'; readonly row: number }
  | { readonly kind: 'reject'; readonly row: number; readonly line?: number; readonly userId?: string; readonly code: string; readonly reason: string };

/** Longest value quoted back in an error reason. */
const QUOTE_MAX = 64;
const quote = (s: string): string => JSON.stringify(s.length > QUOTE_MAX ? `${s.slice(0, QUOTE_MAX)}…` : s);

/** A row that passed every check: the user as stored, and its identifiers (sorted, distinct). */
export type CheckedRow =
  | { readonly ok: true; readonly user: DirectoryUser }
  | { readonly ok: false; readonly code: string; readonly reason: string };

/**
 * What a row is checked against besides itself: the rows accepted before it. The whole-text
 * parser keeps them in memory (RowCollector); the streaming import asks its stage file
 * (import-stage.ts), so memory stays bounded at any directory size.
 */
export interface EarlierRows {
  /** A user id accepted in an earlier row. */
  hasUser(userId: string): boolean;
  /** The row of the earlier user holding `identifier`, if any. */
  claimedRow(identifier: string): number | undefined;
}

/**
 * The checks of one row, in the order their codes take precedence (a duplicate user is
 * reported before its bad phone number, a taken identifier before a bad label): the one
 * place both import paths get their verdict from.
 */
export function checkRow(raw: RawRow, defaultRegion: CountryCode | undefined, earlier: EarlierRows): CheckedRow {
  const fail = (code: string, reason: string): CheckedRow => ({ ok: false, code, reason });
  const userId = raw.userId.trim();
  if (userId === '') return fail('missing_user_id', 'user_id is empty');
  if (userId.length > MAX_USER_ID_LENGTH) return fail('bad_user_id', `user_id is longer than ${MAX_USER_ID_LENGTH} characters`);
  if (earlier.hasUser(userId)) return fail('duplicate_user', `user_id ${quote(userId)} appeared in an earlier row`);

  const identifiers = new Set<string>();
  for (const phone of raw.phones) {
    const result = normalizePhone(phone, defaultRegion);
    if (!result.ok) return fail(result.code, `phone ${quote(phone)}: ${result.reason}`);
    identifiers.add(toIdentifier('tel', result.e164));
  }
  for (const email of raw.emails) {
    const result = normalizeEmail(email);
    if (!result.ok) return fail(result.code, `email ${quote(email)}: ${result.reason}`);
    // toIdentifier('mailto', ...) would normalize the address again to check it is canonical:
    // normalizeEmail's output is (test/contacts-email.test.ts, idempotent), so the same string.
    identifiers.add(`mailto:${result.email}`);
  }
  if (identifiers.size === 0) return fail('no_identifiers', 'no phone number and no e-mail address');
  if (identifiers.size > MAX_IDENTIFIERS_PER_USER) return fail('too_many_identifiers', `more than ${MAX_IDENTIFIERS_PER_USER} identifiers`);
  for (const identifier of identifiers) {
    const first = earlier.claimedRow(identifier);
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
  return { ok: true, user: { userId, identifiers: [...identifiers].sort(compareCodePoints), label, discoverable: raw.discoverable ?? true } };
}

/** An import error record, with `line` and `userId` only where known. */
export function importError(row: number, line: number | undefined, userId: string | undefined, code: string, reason: string): DirectoryImportError {
  const error: DirectoryImportError = { row, code, reason };
  return { ...error, ...(line === undefined ? {} : { line }), ...(userId === undefined || userId === '' ? {} : { userId }) };
}

/** Rows of one text held in memory: the users accepted and every row refused. */
export class RowCollector implements EarlierRows {
  readonly users: DirectoryUser[] = [];
  readonly errors: DirectoryImportError[] = [];
  readonly #userIds = new Set<string>();
  /** identifier -> the row that claimed it first */
  readonly #claimed = new Map<string, number>();

  constructor(private readonly defaultRegion: CountryCode | undefined) {}

  hasUser(userId: string): boolean {
    return this.#userIds.has(userId);
  }

  claimedRow(identifier: string): number | undefined {
    return this.#claimed.get(identifier);
  }

  reject(row: number, line: number | undefined, userId: string | undefined, code: string, reason: string): void {
    this.errors.push(importError(row, line, userId, code, reason));
  }

  add(raw: RawRow): void {
    const checked = checkRow(raw, this.defaultRegion, this);
    if (!checked.ok) return this.reject(raw.row, raw.line, raw.userId, checked.code, checked.reason);
    const { user } = checked;
    this.#userIds.add(user.userId);
    for (const identifier of user.identifiers) this.#claimed.set(identifier, raw.row);
    this.users.push(user);
  }
}

/** `a; b;;c` -> ['a', 'b', 'c']: the separator of several phones or e-mails in one cell. */
export function splitList(cell: string): string[] {
  return cell
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
