/**
 * E-mail addresses to one canonical string. Client and directory must apply the same
 * rules byte for byte, or a registered address is never found; so the rules are simple,
 * deterministic across JavaScript engines, and written down in spec/contacts.md.
 */
import { failure, type NormalizeFailure } from './result.js';

export type EmailResult = { readonly ok: true; readonly email: string } | NormalizeFailure;

/** RFC 5321 §4.5.3.1.1: a local part is at most 64 octets. */
export const MAX_LOCAL_PART_OCTETS = 64;
/** RFC 5321 §4.5.3.1.3 path limit of 256 octets minus the angle brackets (RFC 3696 errata 1690). */
export const MAX_EMAIL_OCTETS = 254;
/** RFC 1035 §2.3.4: a DNS label is at most 63 octets. */
export const MAX_LABEL_OCTETS = 63;
/** Longest raw input looked at, before trimming and `mailto:` stripping. */
export const MAX_RAW_EMAIL_LENGTH = 1024;

// RFC 5322 atext plus the dot. Quoted local parts ("a b"@x.y) are not accepted: they are
// vanishingly rare in address books and would need a second canonical form.
const ASCII_LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~.-]$/;
const ASCII_LABEL = /^[a-z0-9-]$/;
// Spaces, control and format characters (e.g. zero-width joiner, which makes look-alikes)
// and lone surrogates. Only stable Unicode properties, so engines agree.
const FORBIDDEN = /[\s\p{Cc}\p{Cf}\p{Cs}\p{Z}]/u;
// IDNA (UTS #46) maps these full stops to "." in domain names.
const IDEOGRAPHIC_DOTS = /[\u3002\uff0e\uff61]/g;

const utf8 = new TextEncoder();

/**
 * Trims, strips a `mailto:` scheme (with its `?query` and percent-encoding), and
 * lowercases the whole address after NFC normalization. Lowercasing the local part is a
 * deliberate choice: RFC 5321 lets the receiving host treat it case-sensitively, but
 * practically every provider does not, and people type the case inconsistently, so the
 * identifier that matches is the lowercase one. Unicode (EAI, RFC 6531) local parts and
 * internationalized domains are accepted in Unicode form; a domain given in `xn--` form is
 * not converted, so it yields a different identifier from its Unicode spelling.
 */
export function normalizeEmail(raw: string): EmailResult {
  if (typeof raw !== 'string') return failure('invalid_email', 'not a string');
  if (raw.length > MAX_RAW_EMAIL_LENGTH) return failure('invalid_email', `input is longer than ${MAX_RAW_EMAIL_LENGTH} characters`);
  let text = raw.trim();
  if (/^mailto:/i.test(text)) {
    text = text.slice(7);
    const query = text.indexOf('?');
    if (query >= 0) text = text.slice(0, query);
    try {
      text = decodeURIComponent(text);
    } catch {
      return failure('invalid_email', 'malformed percent-encoding in mailto: URI');
    }
    text = text.trim();
  }
  if (text === '') return failure('empty', 'no address');
  if (FORBIDDEN.test(text)) return failure('invalid_email', 'contains a space or control character');

  const lowered = text.normalize('NFC').toLowerCase().normalize('NFC');
  const at = lowered.indexOf('@');
  if (at < 0 || at !== lowered.lastIndexOf('@')) return failure('invalid_email', 'an address has exactly one @');
  const local = lowered.slice(0, at);
  const domain = lowered.slice(at + 1).replace(IDEOGRAPHIC_DOTS, '.');

  const localProblem = checkLocalPart(local);
  if (localProblem !== undefined) return failure('invalid_email', localProblem);
  const domainProblem = checkDomain(domain);
  if (domainProblem !== undefined) return failure('invalid_email', domainProblem);

  const email = `${local}@${domain}`;
  if (utf8.encode(email).length > MAX_EMAIL_OCTETS) return failure('invalid_email', `longer than ${MAX_EMAIL_OCTETS} octets`);
  return { ok: true, email };
}

function checkLocalPart(local: string): string | undefined {
  if (local === '') return 'empty local part';
  if (utf8.encode(local).length > MAX_LOCAL_PART_OCTETS) return `local part longer than ${MAX_LOCAL_PART_OCTETS} octets`;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return 'misplaced dot in local part';
  for (const ch of local) {
    if (ch.codePointAt(0)! < 0x80 && !ASCII_LOCAL.test(ch)) return `character ${JSON.stringify(ch)} not allowed in local part`;
  }
  return undefined;
}

function checkDomain(domain: string): string | undefined {
  const labels = domain.split('.');
  if (labels.length < 2) return 'domain has no dot';
  for (const label of labels) {
    if (label === '') return 'empty domain label';
    if (utf8.encode(label).length > MAX_LABEL_OCTETS) return `domain label longer than ${MAX_LABEL_OCTETS} octets`;
    if (label.startsWith('-') || label.endsWith('-')) return 'domain label starts or ends with a hyphen';
    for (const ch of label) {
      if (ch.codePointAt(0)! < 0x80 && !ASCII_LABEL.test(ch)) return `character ${JSON.stringify(ch)} not allowed in domain`;
    }
  }
  // Address literals ([192.0.2.1]) are rejected above by "[", and an all-digit top-level
  // label means a bare IP address, never a mail domain.
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return 'top-level domain is numeric';
  return undefined;
}
