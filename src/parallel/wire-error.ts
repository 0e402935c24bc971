/**
 * Errors cross the thread boundary as plain data (name, code, message) and are re-created
 * on the main thread as the same class with the same stable `code`, so a caller cannot tell
 * a pooled failure from an inline one. Messages come from our own throw sites, which never
 * include key or blind bytes.
 */
import { ContactPsiError, GroupError, OprfError, SetEncodingError } from '../errors.js';
import type { SerializedError } from './wire.js';

const coded: Record<string, typeof ContactPsiError> = { ContactPsiError, GroupError, OprfError, SetEncodingError };
const builtin: Record<string, ErrorConstructor> = { Error, RangeError, TypeError, SyntaxError };

export function serializeError(err: unknown): SerializedError {
  if (err instanceof ContactPsiError) return { name: err.name, message: err.message, code: err.code };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: `non-error thrown: ${typeof err}` };
}

export function reviveError(e: SerializedError): Error {
  if (e.code !== undefined) {
    const Class = Object.hasOwn(coded, e.name) ? coded[e.name] : ContactPsiError;
    return new Class(e.code, e.message);
  }
  return new (Object.hasOwn(builtin, e.name) ? builtin[e.name] : Error)(e.message);
}

/**
 * Group errors name the bad element's index within the worker's slice ("at index 3"); the
 * caller wants the index in the whole batch, so the slice's start is added back.
 */
export function withBatchIndex(err: unknown, sliceStart: number): unknown {
  if (sliceStart === 0 || !(err instanceof ContactPsiError) || !/\bat index \d+/.test(err.message)) return err;
  const message = err.message.replace(/\bat index (\d+)/, (_, i: string) => `at index ${Number(i) + sliceStart}`);
  const Class = Object.hasOwn(coded, err.name) ? coded[err.name] : ContactPsiError;
  return new Class(err.code, message);
}
