/**
 * The one warning the group layer gives: when 'auto' takes a slower path than this build
 * could (issue 12 §3: a bundle without its WebAssembly ran blinding twice as slow, and
 * nothing said so). Given once per reason per process, through a logger the application
 * may replace (`setGroupLogger`), or silence with `setGroupLogger(null)`.
 *
 * The default logger is the global `console`, the one sink every runtime has (Node,
 * browsers, React Native); no other output happens here, and the message names the path
 * and the reason only, never a key, an element or an identifier.
 */

export interface GroupLogger {
  warn(message: string): void;
}

/** Why a slower path was taken. */
export const SlowPathReasons = ['sodium_unavailable', 'simd_unavailable', 'msm_unavailable'] as const;
export type SlowPathReason = (typeof SlowPathReasons)[number];

let logger: GroupLogger | null = typeof globalThis.console?.warn === 'function' ? globalThis.console : null;
const given = new Set<SlowPathReason>();

/** Replaces the logger (null: no warnings). Returns the previous one, so a caller can restore it. */
export function setGroupLogger(next: GroupLogger | null): GroupLogger | null {
  const previous = logger;
  logger = next;
  return previous;
}

/** Warns once per reason; a throwing logger is ignored (a warning must never fail a sync). */
export function warnSlowPath(reason: SlowPathReason, message: string): void {
  if (given.has(reason)) return;
  given.add(reason);
  try {
    logger?.warn(`contact-psi: ${message} [${reason}]`);
  } catch {
    // the application's logger failed: nothing to do
  }
}

/** For tests: forget which warnings were given. */
export function resetSlowPathWarnings(): void {
  given.clear();
}
