/**
 * Deterministic test and demo data: valid phone numbers for a few regions, the messy ways
 * people write them, and whole address books. Randomness comes in as an `rng`, so the same
 * seed gives the same data everywhere. Not for anything secret.
 */
import { parsePhoneNumberFromString, parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { ContactPsiError } from '../errors.js';
import type { Rng } from '../group/types.js';
import type { ContactDraft } from './draft.js';
import { toIdentifier } from './identifier.js';
import { normalizeEmail } from './email.js';
import type { CountryCode } from './phone.js';

export { toVcard, type VcardWriteOptions, type VcardVersion } from './vcard-write.js';
export { toContactsCsv, type CsvWriteOptions } from './csv-write.js';
export type { ContactDraft } from './draft.js';

export const GeneratedRegions = ['CH', 'DE', 'US', 'GB', 'FR'] as const;
export type GeneratedRegion = (typeof GeneratedRegions)[number];

/**
 * Number shapes per region: a prefix and how many random digits follow. Candidates are
 * kept only when libphonenumber's full metadata calls them valid numbers of the region, so
 * unassigned ranges inside a shape are filtered out rather than listed here.
 */
const SHAPES: Record<GeneratedRegion, readonly { prefix: string; digits: number }[]> = {
  CH: [{ prefix: '+417', digits: 8 }, { prefix: '+4144', digits: 7 }, { prefix: '+4131', digits: 7 }],
  DE: [{ prefix: '+4915', digits: 9 }, { prefix: '+4917', digits: 8 }, { prefix: '+4930', digits: 8 }],
  US: [{ prefix: '+1', digits: 10 }],
  GB: [{ prefix: '+447', digits: 9 }, { prefix: '+4420', digits: 8 }],
  FR: [{ prefix: '+336', digits: 8 }, { prefix: '+337', digits: 8 }, { prefix: '+331', digits: 8 }],
};

const MAX_ATTEMPTS = 10_000;

/** A valid E.164 number of the region, chosen by rejection sampling on `rng`. */
export function generatePhoneNumber(rng: Rng, region: GeneratedRegion): string {
  const shapes = SHAPES[region];
  if (shapes === undefined) throw new ContactPsiError('invalid_region', `no generator for region ${String(region)}`);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const shape = shapes[randomInt(rng, shapes.length)]!;
    const candidate = shape.prefix + randomDigits(rng, shape.digits);
    const parsed = parsePhoneNumberFromString(candidate);
    // +1 is shared by the NANP countries: a +1 candidate may belong to Jamaica or Canada.
    if (parsed !== undefined && parsed.isValid() && parsed.country === region) return candidate;
  }
  throw new ContactPsiError('generator_exhausted', `no valid ${region} number in ${MAX_ATTEMPTS} attempts`);
}

export type PhoneStyle =
  | 'e164'
  | 'international'
  | 'international-dashed'
  | 'international-dotted'
  | 'international-trunk'
  | 'idd-00'
  | 'idd-region'
  | 'tel-uri'
  | 'national'
  | 'national-compact'
  | 'national-dashed'
  | 'national-dotted'
  | 'national-parenthesized';

export interface PhoneVariant {
  readonly style: PhoneStyle;
  readonly text: string;
  /** The region whose conventions the text follows: the default region to parse it with. */
  readonly region: CountryCode;
}

/** International dialling prefixes that are not 00 (NANP uses 011). */
const IDD: Partial<Record<CountryCode, string>> = { US: '011', CA: '011' };

/**
 * The ways a person writes `e164` in the number's own country: national with its trunk
 * prefix, `+` and `00`/`011` international, spaced, dashed, dotted, parenthesized, as a
 * tel: URI, and the `+41 (0)79 ...` hybrid. Each normalizes back to `e164` with `region`.
 */
export function formatNationally(e164: string): PhoneVariant[] {
  const number = parsePhoneNumberWithError(e164);
  const region = number.country;
  if (region === undefined || !number.isValid()) {
    throw new ContactPsiError('invalid_phone', 'formatNationally needs a valid number of a single region');
  }
  const international = number.formatInternational(); // "+41 79 123 45 67"
  const intlGroups = international.slice(1).split(/[^0-9]+/).filter((g) => g !== '');
  const national = number.formatNational(); // "079 123 45 67", "(201) 555-0123"
  const natGroups = national.split(/[^0-9]+/).filter((g) => g !== '');
  const idd = IDD[region] ?? '00';
  const variants: [PhoneStyle, string][] = [
    ['e164', e164],
    ['international', international],
    ['international-dashed', `+${intlGroups.join('-')}`],
    ['international-dotted', `+${intlGroups.join('.')}`],
    ['idd-00', `00 ${intlGroups.join(' ')}`],
    ['idd-region', `${idd} ${intlGroups.join(' ')}`],
    ['tel-uri', `tel:+${intlGroups.join('-')}`],
    ['national', national],
    ['national-compact', natGroups.join('')],
    ['national-dashed', natGroups.join('-')],
    ['national-dotted', natGroups.join('.')],
    ['national-parenthesized', `(${natGroups[0]}) ${natGroups.slice(1).join(' ')}`],
  ];
  // "+41 (0)79 123 45 67": common in Europe, where the national form starts with trunk 0.
  if (natGroups[0]?.startsWith('0')) {
    const countryCode = intlGroups[0]!;
    variants.push(['international-trunk', `+${countryCode} (0)${natGroups.join(' ').slice(1)}`]);
  }
  return variants.map(([style, text]) => ({ style, text, region }));
}

export interface GenerateContactsOptions {
  /** Region of the address book's owner: its numbers appear in national format. Default CH. */
  homeRegion?: GeneratedRegion;
  /** Regions numbers are drawn from. Default all of GeneratedRegions. */
  regions?: readonly GeneratedRegion[];
}

export interface GeneratedContact extends ContactDraft {
  readonly phones: readonly string[];
  readonly emails: readonly string[];
  /** The identifiers the entry must normalize to (with `homeRegion` as default region). */
  readonly identifiers: readonly string[];
}

const FIRST_NAMES = ['Anna', 'Jürg', 'Zoë', 'José', 'Łukasz', 'Mia', 'Noah', 'Léa', 'Ömer', 'Sven', 'Chloé', 'Yuki', 'Ada', 'Luca'];
const LAST_NAMES = ['Müller', 'Smith', "O'Brien", 'García', 'Dubois', 'Schmid', 'Nakamura', 'Rossi', 'Kowalski', 'Brown', 'Meier'];
const DOMAINS = ['example.com', 'example.org', 'Example.CH', 'mail.example.net'];
// Styles that only read right when dialled from the number's own region ("011" is an
// international prefix in the US only).
const HOME_ONLY_STYLES = new Set<PhoneStyle>(['national', 'national-compact', 'national-dashed', 'national-dotted', 'national-parenthesized', 'idd-region']);

/**
 * An address book of `count` entries with 0–3 numbers (home-region numbers in any style,
 * foreign ones in international styles) and 0–2 e-mail addresses in mixed case.
 */
export function generateContacts(rng: Rng, count: number, options: GenerateContactsOptions = {}): GeneratedContact[] {
  const home = options.homeRegion ?? 'CH';
  const regions = options.regions ?? GeneratedRegions;
  const out: GeneratedContact[] = [];
  for (let i = 0; i < count; i++) {
    const first = FIRST_NAMES[randomInt(rng, FIRST_NAMES.length)]!;
    const last = LAST_NAMES[randomInt(rng, LAST_NAMES.length)]!;
    const phones: string[] = [];
    const emails: string[] = [];
    const identifiers: string[] = [];
    for (let p = randomInt(rng, 4); p > 0; p--) {
      const region = regions[randomInt(rng, regions.length)]!;
      const e164 = generatePhoneNumber(rng, region);
      const usable = formatNationally(e164).filter((v) => region === home || !HOME_ONLY_STYLES.has(v.style));
      phones.push(usable[randomInt(rng, usable.length)]!.text);
      identifiers.push(toIdentifier('tel', e164));
    }
    for (let e = randomInt(rng, 3); e > 0; e--) {
      const local = `${ascii(first)}.${ascii(last)}${randomInt(rng, 100)}`;
      const raw = `${randomInt(rng, 2) === 0 ? local : local.toUpperCase()}@${DOMAINS[randomInt(rng, DOMAINS.length)]}`;
      const normalized = normalizeEmail(raw);
      if (!normalized.ok) continue;
      emails.push(randomInt(rng, 4) === 0 ? `  ${raw} ` : raw);
      identifiers.push(toIdentifier('mailto', normalized.email));
    }
    out.push({ name: `${first} ${last}`, phones, emails, identifiers: [...new Set(identifiers)] });
  }
  return out;
}

/**
 * A seeded byte generator (SplitMix32 stream) for tests and the demo. Not cryptographic:
 * never use it for keys or blinds.
 */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      z = (z ^ (z >>> 16)) >>> 0;
      for (let b = 0; b < 4 && i + b < n; b++) out[i + b] = (z >>> (8 * b)) & 0xff;
    }
    return out;
  };
}

/** Uniform integer in [0, bound), bound ≤ 2^16, by rejection so there is no modulo bias. */
export function randomInt(rng: Rng, bound: number): number {
  if (!Number.isInteger(bound) || bound < 1 || bound > 0x10000) throw new ContactPsiError('invalid_option', 'bound must be in 1..65536');
  const limit = 0x10000 - (0x10000 % bound);
  for (;;) {
    const [hi, lo] = rng(2);
    const v = (hi! << 8) | lo!;
    if (v < limit) return v % bound;
  }
}

function randomDigits(rng: Rng, count: number): string {
  let out = '';
  while (out.length < count) {
    for (const byte of rng(count)) {
      // 250 is the largest multiple of 10 below 256: rejecting above it keeps digits uniform.
      if (byte < 250 && out.length < count) out += String(byte % 10);
    }
  }
  return out;
}

function ascii(s: string): string {
  return s.normalize('NFD').replace(/[^A-Za-z]/g, '').toLowerCase() || 'x';
}
