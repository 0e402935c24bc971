/**
 * The account name a client uses for its own derivations (blind secret, output-cache key):
 * it does not know the server's account name, only its bearer token, so the account is a
 * hash of the token (issue 10 §3). Two tokens are two accounts to the client: their blinded
 * elements are unrelated, so a second token of the same server account is charged afresh
 * (use one token per device). No token: the empty account (blinds are random then anyway).
 * The token itself never reaches a file or a log through this.
 */
import { sha256 } from '@noble/hashes/sha2.js';

const ACCOUNT_DOMAIN = new TextEncoder().encode('contact-psi/v1/account\0');

export function clientAccountOf(token: string | undefined): string {
  if (token === undefined) return '';
  const digest = sha256(new Uint8Array([...ACCOUNT_DOMAIN, ...new TextEncoder().encode(token)]));
  let hex = 'token:';
  for (const b of digest.subarray(0, 16)) hex += b.toString(16).padStart(2, '0');
  return hex;
}
