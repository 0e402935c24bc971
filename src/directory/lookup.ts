/**
 * The lookup key of a tag: SHA-512("contact-psi-v1-lookup" || tag), first 16 bytes.
 *
 * The client computes it from its own OPRF output after a snapshot hit and asks for the
 * label by it. It is a one-way function of the tag, so the server index can be keyed by it
 * without storing anything the client could not have derived itself, and 16 bytes keep
 * collisions out of reach (2^-128 per pair) while the request stays small. The fixed
 * prefix separates it from every other hash of the tag (e.g. a label sealing key).
 * Pure (no Node APIs) so client code can import it unchanged.
 */
import { ContactPsiError } from '../errors.js';
import { LOOKUP_KEY_BYTES, WIRE_LOOKUP_KEY_BYTES } from '../protocol/discovery/labels.js';

// One definition, shared with the client: the protocol layer owns the derivation.
export { lookupKeyOf, LOOKUP_KEY_BYTES } from '../protocol/discovery/labels.js';

/** Throws `bad_lookup_key` unless every key is a 16-byte Uint8Array. */
export function checkLookupKeys(keys: readonly Uint8Array[]): void {
  if (!Array.isArray(keys)) throw new ContactPsiError('bad_lookup_key', 'lookup keys must be an array');
  keys.forEach((key, i) => {
    if (!(key instanceof Uint8Array) || key.length !== LOOKUP_KEY_BYTES) {
      throw new ContactPsiError('bad_lookup_key', `lookup key ${i} must be ${LOOKUP_KEY_BYTES} bytes`);
    }
  });
}

/** Throws `bad_lookup_key` unless every key is an 8-byte Uint8Array (the wire form of dir.labels.get). */
export function checkWireLookupKeys(keys: readonly Uint8Array[]): void {
  if (!Array.isArray(keys)) throw new ContactPsiError('bad_lookup_key', 'lookup keys must be an array');
  keys.forEach((key, i) => {
    if (!(key instanceof Uint8Array) || key.length !== WIRE_LOOKUP_KEY_BYTES) {
      throw new ContactPsiError('bad_lookup_key', `wire lookup key ${i} must be ${WIRE_LOOKUP_KEY_BYTES} bytes`);
    }
  });
}
