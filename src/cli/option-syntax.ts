/**
 * Command-line option values, checked where they are read: a bad value is an
 * `invalid_option` error naming the option and what it takes, before anything runs (a
 * malformed `--pin` used to surface as `proof_invalid` from the server's first answer).
 *
 * Each checker returns the value normalized, as a string, so the commands keep their
 * string options; `asParser` turns one into a commander argument parser (main.ts), which
 * commander does not run on defaults (those are written correctly in main.ts).
 *
 * Everything but the region's numbering plan, which needs libphonenumber's metadata
 * (option-values.ts adds it): main.ts checks options with these before any command's
 * module loads, and loading the metadata there would delay every command's start (issue 13
 * §1: `sync` connects before it loads the client).
 */
import { ContactPsiError } from '../errors.js';

/** A value quoted in a message: JSON-quoted, cut to 40 characters (the whole message is escaped by main.ts). */
const quoted = (value: string): string => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);

const invalid = (name: string, takes: string, value: string): ContactPsiError =>
  new ContactPsiError('invalid_option', `${name} takes ${takes}, got ${quoted(value)}`);

/** A TCP port, 0 (any free port) to 65535. */
export function portValue(value: string, name = '--port'): string {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw invalid(name, 'a port from 0 to 65535', value);
  return String(Number(value));
}

/** A non-negative number of hours or seconds (fractions allowed). */
export function durationValue(value: string, name: string, unit: string): string {
  const n = /^\s*$/.test(value) ? NaN : Number(value);
  if (!Number.isFinite(n) || n < 0) throw invalid(name, `a non-negative number of ${unit}`, value);
  return value.trim();
}

/** A whole number of at least `min`. */
export function integerValue(value: string, name: string, min = 1): string {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw invalid(name, `a whole number of at least ${min}`, value);
  return String(n);
}

/** `auto` or a whole number of worker threads (0: none). */
export function workersValue(value: string, name = '--workers'): string {
  if (value === 'auto') return value;
  if (!/^\d{1,4}$/.test(value)) throw invalid(name, 'a non-negative integer or auto', value);
  return String(Number(value));
}

/** The form of a region, two letters, upper-cased (regionValue checks it has a numbering plan). */
export function regionSyntaxValue(value: string, name = '--region'): string {
  const upper = value.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(upper)) throw regionInvalid(name, value);
  return upper;
}

export const regionInvalid = (name: string, value: string): ContactPsiError => invalid(name, 'a two-letter region with a phone numbering plan (e.g. CH, DE, US)', value);

/** Exactly `bytes` bytes of hex (either case), returned lower-case. */
export function hexKeyValue(value: string, name: string, bytes: number, what: string): string {
  if (value.length !== 2 * bytes || !/^[0-9a-fA-F]*$/.test(value)) throw invalid(name, `${what}: ${2 * bytes} hex digits`, value);
  return value.toLowerCase();
}

/** A ws:// or wss:// URL. */
export function wsUrlValue(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(name, 'a ws:// or wss:// URL', value);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw invalid(name, 'a ws:// or wss:// URL', value);
  return value;
}

/** A commander argument parser from a checker. */
export const asParser =
  (check: (value: string) => string) =>
  (value: string): string =>
    check(value);

/** A repeatable option's parser: each value checked, collected in order. */
export const asRepeatable =
  (check: (value: string) => string) =>
  (value: string, previous: string[] = []): string[] => [...previous, check(value)];
