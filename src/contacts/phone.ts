/**
 * Phone numbers to E.164 with libphonenumber-js. The `max` metadata is used because it
 * knows which number ranges are actually assigned, so "valid" means "could be a real
 * subscriber", not just "has a plausible length"; that keeps garbage out of the OPRF batch.
 */
import { parsePhoneNumberWithError, isSupportedCountry, validatePhoneNumberLength } from 'libphonenumber-js/max';
import type { CountryCode } from 'libphonenumber-js/max';
import { repairLegacyMobile } from './phone-variants.js';
import { failure, type NormalizeFailure } from './result.js';

export type { CountryCode };

/**
 * Longest raw input looked at. libphonenumber itself gives up at 250 characters; checking
 * first keeps a pathological cell from being scanned at all.
 */
export const MAX_RAW_PHONE_LENGTH = 256;

export type PhoneResult = { readonly ok: true; readonly e164: string } | NormalizeFailure;

type ParseContext = { defaultCountry?: CountryCode; defaultCallingCode?: string; extract: false };

type Attempt = { ok: true; e164: string } | NormalizeFailure;

/**
 * Normalizes a phone number as typed by a person or stored by an address book to E.164
 * (`+` and up to 15 digits). Never throws. Extensions (`;ext=`, `x 12`) are dropped: they
 * are not part of the E.164 number, and messenger accounts are registered on the number.
 */
export function normalizePhone(raw: string, region?: CountryCode | string): PhoneResult {
  if (typeof raw !== 'string') return failure('invalid_phone', 'not a string');
  // ISO 3166 codes are case-insensitive for people (`--region ch`); libphonenumber wants upper case.
  const defaultRegion = typeof region === 'string' ? (region.toUpperCase() as CountryCode) : region;
  if (defaultRegion !== undefined && !isSupportedCountry(defaultRegion)) {
    return failure('invalid_region', `unknown default region ${JSON.stringify(String(defaultRegion).slice(0, 8))}`);
  }
  if (raw.length > MAX_RAW_PHONE_LENGTH) {
    return failure('too_long', `input is longer than ${MAX_RAW_PHONE_LENGTH} characters`);
  }
  const text = raw.trim();
  const uri = /^tel:/i.test(text) ? parseTelUri(text.slice(4)) : { number: text };
  if (uri.number === undefined) return failure('invalid_phone', 'malformed tel: URI');
  const compact = uri.number.replace(/[\s\-.()/\u00a0]/g, '');
  if (compact === '') return failure('empty', 'nothing but blanks and separators');
  // Cheap exit for text with no digit at all: libphonenumber reports that by throwing,
  // which costs far more than this test when a whole column is junk.
  if (!/\p{Nd}/u.test(compact)) return failure('invalid_phone', 'no digits');

  const context: ParseContext = { extract: false };
  if (uri.callingCode !== undefined) context.defaultCallingCode = uri.callingCode;
  else if (defaultRegion !== undefined) context.defaultCountry = defaultRegion;

  // `00` is the international prefix in most of the world; libphonenumber only knows it
  // when the default region's IDD is 00. Rewriting to `+` also covers "00 41 ..." typed
  // with no region or with region US (IDD 011). No national number begins with 00.
  if (/^00[1-9]/.test(compact)) {
    const first = attempt(uri.number, context);
    return first.ok ? first : attempt(`+${compact.slice(2)}`, { extract: false });
  }
  return attempt(uri.number, context);
}

function attempt(text: string, context: ParseContext): Attempt {
  // Everything inside the try: libphonenumber signals bad input by throwing ParseError,
  // and nothing it throws may escape normalizePhone.
  try {
    const number = parsePhoneNumberWithError(text, context);
    if (number.isValid()) return { ok: true, e164: number.number };
    // A mobile in a retired national form (Mexico's 1, Argentina's 15, Brazil's 8 digits)
    // is the same line as today's form: match it (phone-variants.ts).
    const repaired = repairLegacyMobile(number.number);
    if (repaired !== undefined) return { ok: true, e164: repaired };
    const length = validatePhoneNumberLength(text, context);
    if (length === 'TOO_SHORT') return failure('too_short', 'too few digits for its region');
    if (length === 'TOO_LONG') return failure('too_long', 'too many digits for its region');
    return failure('invalid_phone', `not an assigned number range${number.country ? ` in ${number.country}` : ''}`);
  } catch (err) {
    return classify(errorMessage(err), text, context);
  }
}

function classify(message: string, text: string, context: ParseContext): NormalizeFailure {
  switch (message) {
    case 'INVALID_COUNTRY':
      if (text.startsWith('+') || context.defaultCallingCode !== undefined) {
        return failure('invalid_phone', 'unknown country calling code');
      }
      return context.defaultCountry === undefined
        ? failure('no_region', 'national format and no default region')
        : failure('invalid_phone', 'not a number for the default region');
    case 'TOO_SHORT':
      return failure('too_short', 'too few digits');
    case 'TOO_LONG':
      return failure('too_long', 'too many digits');
    default:
      return failure('invalid_phone', 'not a phone number');
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error || (typeof err === 'object' && err !== null && 'message' in err)
    ? String((err as { message: unknown }).message)
    : String(err);
}

/**
 * RFC 3966 `tel:` URI body: the number, then `;name=value` parameters. `ext` and `isub`
 * are dropped; a `phone-context` of the form `+CC` gives the country calling code of a
 * local number. A domain phone-context carries no country, so the default region applies.
 */
function parseTelUri(body: string): { number?: string; callingCode?: string } {
  let decoded: string;
  try {
    decoded = decodeURIComponent(body);
  } catch {
    return {};
  }
  const [number = '', ...params] = decoded.split(';');
  let callingCode: string | undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    const name = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : param.slice(eq + 1).trim();
    if (name === 'phone-context' && !number.trim().startsWith('+')) {
      const digits = value.replace(/[\-.()]/g, '');
      if (/^\+[1-9][0-9]{0,2}$/.test(digits)) callingCode = digits.slice(1);
    }
  }
  return callingCode === undefined ? { number } : { number, callingCode };
}
