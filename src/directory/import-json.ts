/**
 * Directory JSON: an array of `{ userId, phones?, emails?, label?, discoverable? }`, or
 * `{ users: [...] }`. `phones` and `emails` are arrays of strings (a single string is read
 * like a CSV cell, `;`-separated). Unknown keys are ignored, so files may carry extra data.
 */
import { ContactPsiError } from '../errors.js';
import { RowCollector, splitList, type SourceRecord } from './import-rows.js';

/** The user rows of a directory JSON text (the array, or `users` of an object). */
export function jsonRows(text: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ContactPsiError('invalid_json', `directory file is not valid JSON: ${(err as Error).message}`);
  }
  const rows = Array.isArray(parsed) ? parsed : (parsed as { users?: unknown } | null)?.users;
  if (!Array.isArray(rows)) throw new ContactPsiError('invalid_format', 'a directory JSON file is an array of users or { "users": [...] }');
  return rows;
}

export function collectJson(text: string, collector: RowCollector, maxUsers: number): void {
  const rows = jsonRows(text);
  if (rows.length > maxUsers) throw new ContactPsiError('too_large', `${rows.length} users, more than ${maxUsers}`);
  rows.forEach((value: unknown, i) => {
    const record = jsonRecord(value, i + 1);
    if (record.kind === 'reject') collector.reject(record.row, record.line, record.userId, record.code, record.reason);
    else if (record.kind === 'row') collector.add(record.raw);
  });
}

function stringList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return splitList(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.map((v: string) => v.trim()).filter((v) => v !== '');
  return undefined;
}

/** One user of a directory JSON file as the row checks take it: the one reading both import paths use. */
export function jsonRecord(value: unknown, row: number): SourceRecord {
  const reject = (userId: string | undefined, code: string, reason: string): SourceRecord => ({ kind: 'reject', row, userId, code, reason });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject(undefined, 'invalid_row', 'a user is a JSON object');
  const u = value as Record<string, unknown>;
  const userId = typeof u.userId === 'string' ? u.userId : undefined;
  if (userId === undefined) return reject(undefined, 'missing_user_id', 'userId must be a string');
  const phones = stringList(u.phones);
  const emails = stringList(u.emails);
  if (phones === undefined) return reject(userId, 'invalid_row', 'phones must be an array of strings');
  if (emails === undefined) return reject(userId, 'invalid_row', 'emails must be an array of strings');
  if (u.label !== undefined && u.label !== null && typeof u.label !== 'string') return reject(userId, 'bad_label', 'label must be a string');
  if (u.discoverable !== undefined && u.discoverable !== null && typeof u.discoverable !== 'boolean') return reject(userId, 'bad_discoverable', 'discoverable must be true or false');
  return {
    kind: 'row',
    raw: { row, userId, phones, emails, label: typeof u.label === 'string' ? u.label : undefined, discoverable: typeof u.discoverable === 'boolean' ? u.discoverable : undefined },
  };
}
