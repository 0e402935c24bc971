/**
 * When background syncs run. Pure functions of the policy, an attempt count and a uniform
 * random number u in [0, 1), so the bounds in spec/client.md §3 can be checked exactly.
 *
 * Every delay is jittered: without it, every client that was restarted, reconnected or
 * woken at the same moment (a server restart, a time-zone midnight, a push to all
 * devices) would come back at the same moment again, every day — a thundering herd.
 */
import { ContactPsiError } from '../errors.js';

export interface SchedulePolicy {
  /** Nominal time between syncs. Default 24 h. */
  intervalMs: number;
  /** Each interval is intervalMs × (1 ± intervalJitter), uniform. Default 0.1 (21.6–26.4 h). */
  intervalJitter: number;
  /** First sync after start / consent when none is due: uniform in [0, initialDelayMaxMs). Default 30 s. */
  initialDelayMaxMs: number;
  /** Quiet time after an address-book change before syncing. Default 30 s. */
  debounceMs: number;
  /** Plus uniform [0, debounceJitterMs). Default 30 s, so a change syncs 30–60 s later. */
  debounceJitterMs: number;
  /** A burst of changes is synced at the latest this long after its first change. Default 5 min. */
  maxDebounceMs: number;
  /** Backoff ceiling of attempt n: min(backoffMaxMs, backoffBaseMs × 2^(n−1)). Default 30 s. */
  backoffBaseMs: number;
  /** Default 6 h. */
  backoffMaxMs: number;
  /** A server's retryAfterMs above this is clamped, so a bogus hint cannot stop syncing for days. Default 24 h. */
  maxRetryAfterMs: number;
  /** Up to this fraction is added to retryAfterMs (clients told the same time must not return together). Default 0.1. */
  retryAfterJitter: number;
}

const HOUR = 3_600_000;

export const DEFAULT_SCHEDULE_POLICY: Readonly<SchedulePolicy> = Object.freeze({
  intervalMs: 24 * HOUR,
  intervalJitter: 0.1,
  initialDelayMaxMs: 30_000,
  debounceMs: 30_000,
  debounceJitterMs: 30_000,
  maxDebounceMs: 300_000,
  backoffBaseMs: 30_000,
  backoffMaxMs: 6 * HOUR,
  maxRetryAfterMs: 24 * HOUR,
  retryAfterJitter: 0.1,
});

/** Node timers overflow above 2^31 − 1 ms (and then fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function resolvePolicy(overrides: Partial<SchedulePolicy> = {}): SchedulePolicy {
  const p: SchedulePolicy = { ...DEFAULT_SCHEDULE_POLICY };
  for (const [name, value] of Object.entries(overrides) as [keyof SchedulePolicy, unknown][]) {
    if (value === undefined) continue;
    if (!(name in DEFAULT_SCHEDULE_POLICY)) throw new ContactPsiError('invalid_option', `unknown schedule option ${String(name)}`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new ContactPsiError('invalid_option', `schedule.${name} must be a finite number >= 0`);
    p[name] = value;
  }
  for (const name of ['intervalJitter', 'retryAfterJitter'] as const) {
    if (p[name] >= 1) throw new ContactPsiError('invalid_option', `schedule.${name} must be below 1`);
  }
  if (p.intervalMs <= 0 || p.intervalMs * (1 + p.intervalJitter) > MAX_TIMER_MS) throw new ContactPsiError('invalid_option', 'schedule.intervalMs out of range');
  if (p.backoffBaseMs <= 0 || p.backoffMaxMs < p.backoffBaseMs) throw new ContactPsiError('invalid_option', 'need 0 < backoffBaseMs <= backoffMaxMs');
  return p;
}

/** A random() result forced into [0, 1): a broken injected source must not produce NaN delays. */
export const unit = (u: number): number => (Number.isFinite(u) ? Math.min(Math.max(u, 0), 1 - 2 ** -53) : 0.5);

/** Delay to the next periodic sync: in [intervalMs × (1 − j), intervalMs × (1 + j)). */
export const intervalDelay = (p: SchedulePolicy, u: number): number => Math.floor(p.intervalMs * (1 - p.intervalJitter + 2 * p.intervalJitter * unit(u)));

/** The longest interval the policy can draw (used to clamp a persisted due time). */
export const maxIntervalDelay = (p: SchedulePolicy): number => Math.floor(p.intervalMs * (1 + p.intervalJitter));

export const initialDelay = (p: SchedulePolicy, u: number): number => Math.floor(p.initialDelayMaxMs * unit(u));

export const debounceDelay = (p: SchedulePolicy, u: number): number => p.debounceMs + Math.floor(p.debounceJitterMs * unit(u));

/** Ceiling of attempt n (1-based): doubles from backoffBaseMs up to backoffMaxMs. */
export const backoffCeiling = (p: SchedulePolicy, attempt: number): number =>
  Math.min(p.backoffMaxMs, p.backoffBaseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 52));

/**
 * Delay before retry n: "equal jitter" in [ceiling/2, ceiling) — never less than half the
 * ceiling, so backoff still backs off — and, when the error carries retryAfterMs, never
 * before it: at least min(retryAfterMs, maxRetryAfterMs), plus up to retryAfterJitter of it.
 */
export function backoffDelay(p: SchedulePolicy, attempt: number, u: number, retryAfterMs?: number): number {
  const ceiling = backoffCeiling(p, attempt);
  const backoff = Math.floor(ceiling / 2 + (ceiling / 2) * unit(u));
  if (retryAfterMs === undefined) return backoff;
  const hint = Math.min(retryAfterMs, p.maxRetryAfterMs);
  return Math.max(backoff, Math.ceil(hint * (1 + p.retryAfterJitter * unit(u))));
}

/** The error's `retryAfterMs`, when it carries a usable one (a server hint, or a custom transport's). */
export function retryAfterOf(error: unknown): number | undefined {
  const v = typeof error === 'object' && error !== null ? (error as { retryAfterMs?: unknown }).retryAfterMs : undefined;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}
