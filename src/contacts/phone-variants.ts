/**
 * Mobile numbers that people still write in a form their country has retired
 * (spec/contacts.md "Legacy mobile forms"). The OPRF matches bytes, so `+52 1 55 1234 5678`
 * and `+52 55 1234 5678` (the same line) would never match unless both sides agree on one
 * form. Two tools:
 *
 * - `repairLegacyMobile`: a number that is NOT valid today but whose retired form maps to
 *   exactly one valid number is rewritten to it (Mexico's `1`/`044`/`045`/`01` prefixes,
 *   Argentina's `15` after the area code, Brazil's 8-digit mobiles). Directory import and
 *   the client both go through normalizePhone, so both store and query the canonical form.
 * - `phoneVariants`: a number that IS valid but may be a mobile written without its mobile
 *   marker (Argentina's `9` after +54; Brazil's 8-digit numbers that the metadata still
 *   lists as mobile) has one alternative form, which the client checks too. Each variant is
 *   one more OPRF input, so it costs one more quota unit; variants are only produced where
 *   the written form is genuinely ambiguous.
 *
 * Every candidate is checked against libphonenumber's `max` metadata (assigned ranges), so
 * a repair never invents a number outside an assigned mobile range.
 */
import { parsePhoneNumberWithError } from 'libphonenumber-js/max';

/** Country calling codes with legacy mobile forms handled here. */
const MEXICO = '52';
const ARGENTINA = '54';
const BRAZIL = '55';

/** Mexico's dialing prefixes that were written before the national number until 2019-2020. */
const MEXICO_RETIRED_PREFIXES = ['044', '045', '01', '1'] as const;
/** Mexico's national significant numbers are 10 digits since the 2019 reform. */
const MEXICO_NSN_DIGITS = 10;
/** Argentina's national significant numbers are 10 digits (area code + subscriber). */
const ARGENTINA_NSN_DIGITS = 10;
/** Argentina's area codes have 2 to 4 digits; `15` follows the area code in national mobile form. */
const ARGENTINA_AREA_DIGITS = [2, 3, 4] as const;
/** Brazil: 2-digit area code + 8-digit subscriber before the ninth digit was added (2012-2016). */
const BRAZIL_OLD_MOBILE_NSN_DIGITS = 10;

type NumberType = 'MOBILE' | 'FIXED_LINE_OR_MOBILE' | 'FIXED_LINE' | 'OTHER' | 'INVALID';

/** Classifies `+<callingCode><nsn>` with the `max` metadata; never throws. */
function classify(callingCode: string, nsn: string): NumberType {
  try {
    const number = parsePhoneNumberWithError(`+${callingCode}${nsn}`);
    if (!number.isValid()) return 'INVALID';
    const type = number.getType();
    if (type === 'MOBILE' || type === 'FIXED_LINE_OR_MOBILE' || type === 'FIXED_LINE') return type;
    return 'OTHER';
  } catch {
    return 'INVALID';
  }
}

const isMobile = (type: NumberType) => type === 'MOBILE' || type === 'FIXED_LINE_OR_MOBILE';

/** Splits an E.164 string of one of the handled countries into calling code and NSN. */
function split(e164: string): { callingCode: string; nsn: string } | undefined {
  for (const code of [MEXICO, ARGENTINA, BRAZIL]) {
    if (e164.startsWith(`+${code}`)) return { callingCode: code, nsn: e164.slice(1 + code.length) };
  }
  return undefined;
}

function mexicoRepairs(nsn: string): string[] {
  const out: string[] = [];
  for (const prefix of MEXICO_RETIRED_PREFIXES) {
    if (nsn.startsWith(prefix) && nsn.length === prefix.length + MEXICO_NSN_DIGITS) out.push(nsn.slice(prefix.length));
  }
  return out;
}

function argentinaRepairs(nsn: string): string[] {
  const out: string[] = [];
  // "9 <area> 15 <subscriber>" and "<area> 15 <subscriber>": the 15 was the national mobile
  // prefix; internationally it is replaced by the 9 after +54.
  const body = nsn.startsWith('9') ? nsn.slice(1) : nsn;
  if (body.length === ARGENTINA_NSN_DIGITS + 2) {
    for (const area of ARGENTINA_AREA_DIGITS) {
      if (body.slice(area, area + 2) === '15') out.push(`9${body.slice(0, area)}${body.slice(area + 2)}`);
    }
  }
  return out;
}

function brazilRepairs(nsn: string): string[] {
  // 8-digit mobiles began with 6-9; each gained a leading 9 (Anatel, 2012-2016).
  if (nsn.length === BRAZIL_OLD_MOBILE_NSN_DIGITS && /^[1-9][1-9][6-9]/.test(nsn)) {
    return [`${nsn.slice(0, 2)}9${nsn.slice(2)}`];
  }
  return [];
}

/**
 * The one valid mobile number that a retired form stands for, as E.164, or undefined when
 * `e164` (a syntactically E.164 string that is not valid today) has no unambiguous repair.
 */
export function repairLegacyMobile(e164: string): string | undefined {
  const parts = split(e164);
  if (parts === undefined) return undefined;
  const { callingCode, nsn } = parts;
  const candidates =
    callingCode === MEXICO ? mexicoRepairs(nsn) : callingCode === ARGENTINA ? argentinaRepairs(nsn) : brazilRepairs(nsn);
  const valid = [...new Set(candidates)].filter((candidate) => isMobile(classify(callingCode, candidate)));
  // Two different repairs would be a guess: refuse rather than query the wrong person.
  return valid.length === 1 ? `+${callingCode}${valid[0]}` : undefined;
}

/**
 * Other forms under which the line `e164` (valid and canonical) may be registered, to be
 * checked as well. Empty for almost every number.
 */
export function phoneVariants(e164: string): string[] {
  const parts = split(e164);
  if (parts === undefined) return [];
  const { callingCode, nsn } = parts;
  let candidate: string | undefined;
  if (callingCode === ARGENTINA && nsn.length === ARGENTINA_NSN_DIGITS && !nsn.startsWith('9')) {
    // Written as a landline (+54 11 1234 5678): people store mobiles like that too.
    candidate = `9${nsn}`;
  } else if (callingCode === BRAZIL && nsn.length === BRAZIL_OLD_MOBILE_NSN_DIGITS && /^[1-9][1-9][6-9]/.test(nsn)) {
    // Valid 8-digit number in a range the metadata still lists (e.g. trunked radio): may
    // also be an old mobile that gained its ninth digit.
    candidate = `${nsn.slice(0, 2)}9${nsn.slice(2)}`;
  }
  if (candidate === undefined || !isMobile(classify(callingCode, candidate))) return [];
  return [`+${callingCode}${candidate}`];
}
