/**
 * Identifiers are what the OPRF sees: a scheme prefix separates the domains, so the phone
 * number and an e-mail address that happen to share characters can never collide, and new
 * kinds can be added later without re-keying the old ones.
 *
 * The strings look like URIs but are not: no percent-encoding, no parameters. The bytes
 * OPRF'd are exactly the UTF-8 encoding of `tel:+41791234567` or `mailto:alice@example.org`.
 */
import { ContactPsiError } from '../errors.js';
import { normalizeEmail } from './email.js';

export const IdentifierKinds = ['tel', 'mailto'] as const;
export type IdentifierKind = (typeof IdentifierKinds)[number];

export interface ParsedIdentifier {
  readonly kind: IdentifierKind;
  /** The normalized value: an E.164 number or a normalized e-mail address. */
  readonly value: string;
}

/** ITU-T E.164: a country code that does not start with 0, at most 15 digits in all. */
const E164 = /^\+[1-9][0-9]{1,14}$/;

const utf8 = new TextEncoder();

/**
 * Builds the identifier for an already normalized value. Throws `invalid_identifier` when
 * the value is not in canonical form, because OPRF'ing a non-canonical string would make
 * a silent mismatch instead of an error.
 */
export function toIdentifier(kind: IdentifierKind, normalized: string): string {
  checkCanonical(kind, normalized);
  return `${kind}:${normalized}`;
}

/** Splits an identifier into kind and value; throws `invalid_identifier` unless canonical. */
export function parseIdentifier(s: string): ParsedIdentifier {
  if (typeof s !== 'string') throw new ContactPsiError('invalid_identifier', 'identifier is not a string');
  const colon = s.indexOf(':');
  const kind = s.slice(0, colon);
  if (colon < 0 || !(IdentifierKinds as readonly string[]).includes(kind)) {
    throw new ContactPsiError('invalid_identifier', 'identifier does not start with tel: or mailto:');
  }
  const value = s.slice(colon + 1);
  checkCanonical(kind as IdentifierKind, value);
  return { kind: kind as IdentifierKind, value };
}

export function isIdentifier(s: string): boolean {
  try {
    parseIdentifier(s);
    return true;
  } catch {
    return false;
  }
}

/** The OPRF input for an identifier: its UTF-8 bytes. Rejects non-canonical identifiers. */
export function identifierBytes(identifier: string): Uint8Array {
  parseIdentifier(identifier);
  return utf8.encode(identifier);
}

function checkCanonical(kind: IdentifierKind, value: string): void {
  if (typeof value !== 'string') throw new ContactPsiError('invalid_identifier', 'identifier value is not a string');
  if (kind === 'tel') {
    if (!E164.test(value)) throw new ContactPsiError('invalid_identifier', 'tel: value is not an E.164 number');
    return;
  }
  if (kind === 'mailto') {
    const normalized = normalizeEmail(value);
    if (!normalized.ok || normalized.email !== value) {
      throw new ContactPsiError('invalid_identifier', 'mailto: value is not a normalized e-mail address');
    }
    return;
  }
  throw new ContactPsiError('invalid_identifier', `unknown identifier kind ${JSON.stringify(String(kind))}`);
}
