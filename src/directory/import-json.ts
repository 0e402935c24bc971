/**
 * Directory JSON: an array of `{ userId, phones?, emails?, label?, discoverable? }`, or
 * `{ users: [...] }`. `phones` and `emails` are arrays of strings (a single string is read
 * like a CSV cell, `;`-separated). Unknown keys are ignored, so files may carry extra data.
 */
import { ContactPsiError } from '../errors.js';
import { RowCollector, splitList } from './import-rows.js';

function stringList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return splitList(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.map((v: string) => v.trim()).filter((v) => v !== '');
  return undefined;
}

export function collectJson(text: string, collector: RowCollector, maxUsers: number): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ContactPsiError('invalid_json', `directory file is not valid JSON: ${(err as Error).message}`);
  }
  const rows = Array.isArray(parsed) ? parsed : (parsed as { users?: unknown } | null)?.users;
  if (!Array.isArray(rows)) throw new ContactPsiError('invalid_format', 'a directory JSON file is an array of users or { "users": [...] }');
  if (rows.length > maxUsers) throw new ContactPsiError('too_large', `${rows.length} users, more than ${maxUsers}`);
  rows.forEach((value: unknown, i) => {
    const row = i + 1;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      collector.reject(row, undefined, undefined, 'invalid_row', 'a user is a JSON object');
      return;
    }
    const u = value as Record<string, unknown>;
    const userId = typeof u.userId === 'string' ? u.userId : undefined;
    if (userId === undefined) return collector.reject(row, undefined, undefined, 'missing_user_id', 'userId must be a string');
    const phones = stringList(u.phones);
    const emails = stringList(u.emails);
    if (phones === undefined) return collector.reject(row, undefined, userId, 'invalid_row', 'phones must be an array of strings');
    if (emails === undefined) return collector.reject(row, undefined, userId, 'invalid_row', 'emails must be an array of strings');
    if (u.label !== undefined && u.label !== null && typeof u.label !== 'string') {
      return collector.reject(row, undefined, userId, 'bad_label', 'label must be a string');
    }
    if (u.discoverable !== undefined && u.discoverable !== null && typeof u.discoverable !== 'boolean') {
      return collector.reject(row, undefined, userId, 'bad_discoverable', 'discoverable must be true or false');
    }
    collector.add({
      row,
      userId,
      phones,
      emails,
      label: typeof u.label === 'string' ? u.label : undefined,
      discoverable: typeof u.discoverable === 'boolean' ? u.discoverable : undefined,
    });
  });
}
