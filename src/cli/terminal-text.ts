/**
 * Text from a peer (a server-chosen user id, a label, a contact's name read from a file)
 * printed to a terminal must not be able to drive it: an ESC starts a control sequence
 * (move the cursor, rewrite a line, set the title), CR/LF forge whole result lines, and
 * Unicode bidi overrides/isolates reorder what is shown (the "Trojan Source" trick, CVE-2021-42574).
 * `escapeControlChars` replaces each such code point with a visible `\u{hex}`, and leaves
 * every other character (letters of any script, accents, emoji) untouched.
 */

/**
 * The code points escaped: C0 controls (U+0000-U+001F, incl. TAB, CR, LF, ESC), DEL
 * (U+007F), C1 controls (U+0080-U+009F, incl. the 8-bit CSI U+009B), the bidi marks and
 * embeddings/overrides/isolates (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069), the
 * line and paragraph separators (U+2028-U+2029, line breaks to some terminals), and lone
 * UTF-16 surrogates (not text; printed as U+FFFD, so they could hide a difference). With
 * the `u` flag a surrogate pair is one code point, so only lone surrogates match.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/gu;

/** True when `s` holds a code point that escapeControlChars would escape. */
export function hasControlChars(s: string): boolean {
  UNSAFE.lastIndex = 0;
  const found = UNSAFE.test(s);
  UNSAFE.lastIndex = 0;
  return found;
}

/** `s` with every control, bidi or lone-surrogate code point written as `\u{hex}` (lowercase hex). */
export function escapeControlChars(s: string): string {
  return s.replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** What JSON.stringify leaves raw but a terminal acts on: DEL, C1, bidi marks/overrides/isolates, U+2028/2029. */
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON.stringify(value) with every code point escapeControlChars would escape written as a
 * JSON `\uXXXX` escape: the same JSON value for a parser, inert on a terminal.
 * (JSON.stringify already escapes C0 controls and lone surrogates.)
 */
export function jsonForTerminal(value: unknown): string {
  return JSON.stringify(value).replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
