/**
 * A match's label is bytes: the directory stores whatever the operator imported (a public
 * key, a display name, an opaque handle) and the protocol carries it sealed, unchanged.
 * Many labels are text; `labelText` gives that text when the bytes are valid UTF-8
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), and `undefined`
 * otherwise, so an app decides how to show binary labels (the CLI prints `base64:...`).
 *
 * The text is as the directory chose it: it may hold control or bidi characters. Escape it
 * before it reaches a terminal (the CLI uses escapeControlChars) or HTML.
 */

// fatal: invalid bytes throw instead of becoming U+FFFD (which would hide a difference);
// ignoreBOM: a leading U+FEFF is part of the label, kept, so text round-trips to the same bytes.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The label as text when it is valid UTF-8, else undefined. Encoding the text gives back the same bytes. */
export function labelText(label: Uint8Array): string | undefined {
  try {
    return decoder.decode(label);
  } catch {
    return undefined;
  }
}

/** The label as one string: its text when it is valid UTF-8, else `base64:` and its bytes in base64 (the directory import's notation). */
export function labelDisplay(label: Uint8Array): string {
  return labelText(label) ?? `base64:${base64(label)}`;
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
