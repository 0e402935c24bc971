/** vCard value decoding: text escapes, structured values, quoted-printable. */

const utf8 = new TextEncoder();

/**
 * RFC 6350 §3.4 / RFC 2426 §5: `\\`, `\,`, `\;` and `\n`/`\N` (newline). `\:` is not in
 * the RFCs but some writers emit it. Any other backslash is kept as it is: losing a
 * character of a name is worse than showing a stray backslash.
 */
export function unescapeText(value: string): string {
  if (!value.includes('\\')) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch !== '\\' || i + 1 >= value.length) {
      out += ch;
      continue;
    }
    const next = value[i + 1]!;
    if (next === 'n' || next === 'N') out += '\n';
    else if (next === '\\' || next === ',' || next === ';' || next === ':') out += next;
    else out += ch + next;
    i++;
  }
  return out;
}

/**
 * Splits a structured value (N: family;given;additional;prefixes;suffixes) at separators
 * that are not escaped, leaving the escapes in the parts for unescapeText.
 */
export function splitUnescaped(value: string, separator: ';' | ','): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\\') i++;
    else if (ch === separator) {
      out.push(value.slice(start, i));
      start = i + 1;
    }
  }
  out.push(value.slice(start));
  return out;
}

/**
 * RFC 2045 §6.7 quoted-printable (vCard 2.1 and some 3.0 writers) into a string, using
 * the CHARSET parameter: UTF-8 by default, ISO-8859-1 decoded by hand (React Native's
 * TextDecoder may only know UTF-8), others through TextDecoder when the engine has them.
 */
export function decodeQuotedPrintable(value: string, charset = 'utf-8'): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x3d && /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === 0x3d && i === value.length - 1) {
      // A soft line break with nothing after it (the last line of a value).
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      // Not valid QP, but a raw non-ASCII character survives as its UTF-8 bytes.
      const cp = value.codePointAt(i)!;
      for (const b of utf8.encode(String.fromCodePoint(cp))) bytes.push(b);
      if (cp > 0xffff) i++;
    }
  }
  const label = charset.trim().toLowerCase();
  if (label === 'iso-8859-1' || label === 'latin1' || label === 'us-ascii') {
    let out = '';
    for (const b of bytes) out += String.fromCharCode(b);
    return out;
  }
  try {
    return new TextDecoder(label).decode(new Uint8Array(bytes));
  } catch {
    return new TextDecoder('utf-8').decode(new Uint8Array(bytes));
  }
}
