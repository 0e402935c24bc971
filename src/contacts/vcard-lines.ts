/**
 * vCard content lines (RFC 6350 §3.2, RFC 2426 §2.4.2): physical lines are unfolded into
 * logical ones, and each logical line is split into group, name, parameters and value.
 */

export interface LogicalLine {
  readonly text: string;
  /** 1-based number of the physical line where it starts. */
  readonly line: number;
}

export interface ContentLine {
  /** The `item1` of `item1.TEL`, lowercased; empty when absent. */
  readonly group: string;
  /** Property name, uppercased. */
  readonly name: string;
  /** Parameter names uppercased; values unquoted, in order, split on commas. */
  readonly params: ReadonlyMap<string, readonly string[]>;
  readonly value: string;
}

/**
 * Unfolds CRLF, LF or CR followed by one space or tab (the break and that one character
 * go). Also joins vCard 2.1 quoted-printable soft line breaks (a value ending in `=`),
 * which continue on the next line without indentation.
 */
export function unfoldLines(text: string): LogicalLine[] {
  const physical = text.split(/\r\n|\r|\n/);
  const out: LogicalLine[] = [];
  let i = 0;
  while (i < physical.length) {
    const start = i;
    const parts = [physical[i]!];
    i++;
    for (;;) {
      const next = physical[i];
      if (next === undefined) break;
      const folded = next.startsWith(' ') || next.startsWith('\t');
      const last = parts[parts.length - 1]!;
      // A card boundary is never swallowed by a stray trailing `=`.
      if (last.endsWith('=') && isQuotedPrintable(parts[0]!) && !/^(BEGIN|END):VCARD\s*$/i.test(next)) {
        // A soft line break; some writers also indent the continuation, so drop one blank.
        parts[parts.length - 1] = last.slice(0, -1);
        parts.push(folded ? next.slice(1) : next);
        i++;
        continue;
      }
      if (!folded) break;
      parts.push(next.slice(1));
      i++;
    }
    out.push({ text: parts.length === 1 ? parts[0]! : parts.join(''), line: start + 1 });
  }
  return out;
}

function isQuotedPrintable(firstPart: string): boolean {
  const colon = firstPart.indexOf(':');
  const head = colon < 0 ? firstPart : firstPart.slice(0, colon);
  return /QUOTED-PRINTABLE/i.test(head);
}

/**
 * Parses `[group.]name *(;param[=value[,value]]) : value`. Parameter values may be
 * double-quoted (RFC 6350 §3.3) and then contain `:`, `;` and `,`. A parameter without
 * `=` is the vCard 2.1 shorthand for TYPE (`TEL;CELL:`) or ENCODING. Returns undefined
 * for a line that is not a property, e.g. a 2.1 base64 continuation.
 */
export function parseContentLine(text: string): ContentLine | undefined {
  let inQuotes = false;
  let colon = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) inQuotes = !inQuotes;
    else if (c === 0x3a && !inQuotes) {
      colon = i;
      break;
    }
  }
  if (colon <= 0) return undefined;
  const head = splitOutsideQuotes(text.slice(0, colon), ';');
  const fullName = head[0]!.trim();
  const dot = fullName.lastIndexOf('.');
  const name = (dot < 0 ? fullName : fullName.slice(dot + 1)).toUpperCase();
  if (!/^[A-Z0-9-]+$/.test(name)) return undefined;
  const group = dot < 0 ? '' : fullName.slice(0, dot).toLowerCase();

  const params = new Map<string, string[]>();
  for (const param of head.slice(1)) {
    const eq = param.indexOf('=');
    let key: string;
    let values: string[];
    if (eq < 0) {
      const bare = param.trim().toUpperCase();
      key = bare === 'QUOTED-PRINTABLE' || bare === 'BASE64' || bare === 'B' ? 'ENCODING' : 'TYPE';
      values = [bare];
    } else {
      key = param.slice(0, eq).trim().toUpperCase();
      values = splitOutsideQuotes(param.slice(eq + 1), ',').map(unquote);
    }
    const existing = params.get(key);
    if (existing === undefined) params.set(key, values);
    else existing.push(...values);
  }
  return { group, name, params, value: text.slice(colon + 1) };
}

function splitOutsideQuotes(s: string, separator: string): string[] {
  const out: string[] = [];
  let inQuotes = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '"') inQuotes = !inQuotes;
    else if (ch === separator && !inQuotes) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

function unquote(s: string): string {
  const t = s.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}
