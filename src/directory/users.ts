/**
 * Checks shared by every store, so memory and SQLite accept and reject exactly the same
 * batches and write the same change-log rows.
 */
import { parseIdentifier } from '../contacts/identifier.js';
import { ContactPsiError } from '../errors.js';
import { MAX_LABEL_PLAINTEXT_BYTES, MAX_SEALED_LABEL_BYTES, sealedLabelBytes } from '../protocol/discovery/labels.js';
import type { ChangeKind, DirectoryUser, DirectoryUserInput } from './types.js';

export const MAX_USER_ID_LENGTH = 256;
/**
 * A label is a public key or a short handle; the bound keeps one user from bloating every
 * answer. It is served sealed with the user id, which must fit a client's 4,096-byte item:
 * this is the longest label any user can have (with a 1-byte user id); normalizeUser checks
 * the sealed size itself.
 */
export const MAX_LABEL_BYTES = MAX_LABEL_PLAINTEXT_BYTES - 1;
export const MAX_IDENTIFIERS_PER_USER = 64;

/**
 * Code point order, which is also the UTF-8 byte order SQLite's BINARY collation uses.
 * JavaScript's `<` compares UTF-16 units and puts U+E000..U+FFFF after astral characters;
 * mapping the units as below restores code point order.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixUp(x) - fixUp(y);
  }
  return a.length - b.length;
}

const fixUp = (unit: number): number => (unit < 0xd800 ? unit : unit >= 0xe000 ? unit - 0x800 : unit + 0x2000);

function invalid(userId: unknown, reason: string): ContactPsiError {
  const who = typeof userId === 'string' ? JSON.stringify(userId.slice(0, 64)) : 'a user';
  return new ContactPsiError('invalid_user', `${who}: ${reason}`);
}

/** A checked, defaulted copy of one user: identifiers canonical, distinct and sorted; label copied. */
export function normalizeUser(input: DirectoryUserInput): DirectoryUser {
  if (typeof input !== 'object' || input === null) throw invalid(undefined, 'not an object');
  const { userId } = input;
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
    throw invalid(userId, `userId must be a string of 1..${MAX_USER_ID_LENGTH} characters`);
  }
  if (!Array.isArray(input.identifiers)) throw invalid(userId, 'identifiers must be an array');
  if (input.identifiers.length > MAX_IDENTIFIERS_PER_USER) throw invalid(userId, `more than ${MAX_IDENTIFIERS_PER_USER} identifiers`);
  for (const identifier of input.identifiers) {
    try {
      parseIdentifier(identifier);
    } catch (err) {
      throw new ContactPsiError('invalid_identifier', `user ${JSON.stringify(userId)}: ${(err as Error).message}`, { cause: err });
    }
  }
  const identifiers = [...new Set(input.identifiers)].sort(compareCodePoints);
  const label = input.label ?? new Uint8Array(0);
  if (!(label instanceof Uint8Array) || label.length > MAX_LABEL_BYTES) throw invalid(userId, `label must be at most ${MAX_LABEL_BYTES} bytes`);
  const sealed = sealedLabelBytes(Buffer.byteLength(userId, 'utf8'), label.length);
  if (sealed > MAX_SEALED_LABEL_BYTES) throw invalid(userId, `user id and label seal to ${sealed} bytes, more than the ${MAX_SEALED_LABEL_BYTES} a client accepts`);
  const discoverable = input.discoverable ?? true;
  if (typeof discoverable !== 'boolean') throw invalid(userId, 'discoverable must be a boolean');
  return { userId, identifiers, label: new Uint8Array(label), discoverable };
}

/**
 * Normalizes a batch and rejects what no store state could make valid: the same user twice
 * (ambiguous: which one wins?) or one identifier claimed by two users of the batch.
 * Returns the users and the owner each claimed identifier will have.
 */
export function normalizeBatch(inputs: readonly DirectoryUserInput[]): { users: DirectoryUser[]; claims: Map<string, string> } {
  if (!Array.isArray(inputs)) throw new ContactPsiError('invalid_user', 'users must be an array');
  const users = inputs.map(normalizeUser);
  const seen = new Set<string>();
  const claims = new Map<string, string>();
  for (const user of users) {
    if (seen.has(user.userId)) throw new ContactPsiError('duplicate_user', `user ${JSON.stringify(user.userId)} appears twice in one batch`);
    seen.add(user.userId);
    for (const identifier of user.identifiers) {
      const other = claims.get(identifier);
      if (other !== undefined) throw identifierTaken(identifier, user.userId, other);
      claims.set(identifier, user.userId);
    }
  }
  return { users, claims };
}

export function identifierTaken(identifier: string, claimant: string, holder: string): ContactPsiError {
  return new ContactPsiError(
    'identifier_taken',
    `identifier ${identifier} requested by user ${JSON.stringify(claimant)} belongs to user ${JSON.stringify(holder)}`,
  );
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * The change-log rows an upsert writes, in this order: one `register` for a new user;
 * otherwise `opt_out`/`opt_in`, then `identifiers`, then `label`, each only when that
 * aspect changed. An upsert that changes nothing writes nothing, so re-importing the same
 * file keeps the version (and every cached snapshot) valid.
 */
export function changeKinds(before: DirectoryUser | undefined, after: DirectoryUser): ChangeKind[] {
  if (before === undefined) return ['register'];
  const kinds: ChangeKind[] = [];
  if (before.discoverable !== after.discoverable) kinds.push(after.discoverable ? 'opt_in' : 'opt_out');
  if (!sameList(before.identifiers, after.identifiers)) kinds.push('identifiers');
  if (!sameBytes(before.label, after.label)) kinds.push('label');
  return kinds;
}
