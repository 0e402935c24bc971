/**
 * The deterministic-blinding secret per (directory identity, account) (issue 10 §3,
 * spec/verifiability.md §6). Deterministic blinds exist for one reason: a contact checked
 * before gives the same blinded element, so the server's quota does not charge it again.
 * With one device secret for every server and account, the same book sent to two
 * operators (or under two accounts) gave identical blinded elements, which links them; and
 * anyone holding the device secret could rebuild the book from logged elements.
 *
 *   blindSecret = HKDF-SHA256(IKM = deviceSecret, salt = BLIND_SECRET_SALT,
 *                             info = field(identityKey) || field(utf8(account)), L = 32)
 *
 * (field = u32be length || bytes, as in canonical-fields.ts, so no two (key, account)
 * pairs share an info string.) The result is a drop-in for the `blindSecret` option of
 * DiscoveryClientSession: the session's blinds are H(blindSecret || identifier), unchanged.
 *
 * Where no quota applies (an anonymous server, nothing charged), there is nothing to gain
 * from repeating blinds, only linkability: `blindSecretFor` returns undefined and the
 * session blinds at random. The device secret stays as sensitive as the address book
 * (0600, never logged): with it and a server's logs, that server's elements are again
 * testable against candidate numbers, but only that (server, account)'s.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ProtocolError } from '../errors.js';
import { asciiBytes, encodeFields } from './canonical-fields.js';

export const BLIND_SECRET_SALT = asciiBytes('contact-psi/v1/blind-secret');
export const BLIND_SECRET_BYTES = 32;
export const DEVICE_SECRET_BYTES = 32;
/** Longest account name taken (a user ID, an e-mail address, a token hash). */
export const MAX_ACCOUNT_BYTES = 1024;

const utf8 = new TextEncoder();

export function deriveBlindSecret(deviceSecret: Uint8Array, identityKey: Uint8Array, account: string): Uint8Array {
  if (deviceSecret.length !== DEVICE_SECRET_BYTES) throw new ProtocolError('bad_field', `device secret of ${deviceSecret.length} bytes, expected ${DEVICE_SECRET_BYTES}`);
  if (identityKey.length !== 32) throw new ProtocolError('bad_field', 'a directory identity key is 32 bytes (Ed25519)');
  const accountBytes = utf8.encode(account);
  if (accountBytes.length > MAX_ACCOUNT_BYTES) throw new ProtocolError('too_large', `account name of ${accountBytes.length} bytes, above ${MAX_ACCOUNT_BYTES}`);
  return hkdf(sha256, deviceSecret, BLIND_SECRET_SALT, encodeFields([identityKey, accountBytes]), BLIND_SECRET_BYTES);
}

export interface BlindingChoice {
  readonly deviceSecret: Uint8Array;
  /** The pinned directory identity key. */
  readonly identityKey: Uint8Array;
  /** The account the server charges (empty string when anonymous). */
  readonly account: string;
  /** Whether the server charges quotas to this account (the CLI: a token was given). */
  readonly quotaApplies: boolean;
}

/** The `blindSecret` to pass to the session: derived where a quota applies, else undefined (random blinds). */
export function blindSecretFor(choice: BlindingChoice): Uint8Array | undefined {
  return choice.quotaApplies ? deriveBlindSecret(choice.deviceSecret, choice.identityKey, choice.account) : undefined;
}
