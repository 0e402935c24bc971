/**
 * Fetching the directory's announcement log (dir.log, spec/verifiability.md §5), for
 * auditors and witnesses that mirror it:
 *
 *   idle --start()/send dir.hello--> awaiting_info
 *   awaiting_info --dir.info/send dir.log.get {from, limit}--> awaiting_log
 *   awaiting_log --dir.log (more wanted)/send dir.log.get--> awaiting_log
 *   awaiting_log --dir.log (up to `total`, or `maxEntries`)/emit result--> done
 *
 * Entries are verified as they arrive (announcement-log.ts appendEntry): a broken chain, a
 * foreign signer or a rollback fails the session at that entry (`bad_log`, ...).
 */
import type { SuiteId } from '../../oprf/suite.js';
import { ContactPsiError } from '../../errors.js';
import { ProtocolError } from '../errors.js';
import { SessionCore } from '../session-core.js';
import { appendEntry, DEFAULT_MAX_LOG_ENTRIES, emptyLog, type LogCursor } from './announcement-log.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas, MAX_LOG_ENTRIES_PER_MESSAGE, type DirLog, type DiscoveryMessage } from './messages.js';

export type LogQueryState = 'idle' | 'awaiting_info' | 'awaiting_log' | 'done';

export interface LogQueryOptions {
  readonly suite: SuiteId;
  /** The pinned identity; without it the first entry's signer is taken. */
  readonly identityKey?: Uint8Array;
  /** Most entries fetched (default DEFAULT_MAX_LOG_ENTRIES); a longer log is fetched up to it. */
  readonly maxEntries?: number;
  /** Entries asked for per dir.log.get (1..MAX_LOG_ENTRIES_PER_MESSAGE, the default). */
  readonly pageEntries?: number;
  readonly idleTimeoutMs?: number;
}

export interface LogQueryResult {
  /** Signed envelopes from entry 0, in order, each verified against the ones before it. */
  readonly entries: readonly Uint8Array[];
  readonly cursor: LogCursor;
  /** Entries in the server's log when it last answered. */
  readonly total: number;
}

export class LogQuerySession extends SessionCore<LogQueryState, DiscoveryMessage, LogQueryResult> {
  protected readonly role = 'client';
  protected state: LogQueryState = 'idle';
  protected readonly transitions = {
    awaiting_info: {
      'dir.info': () => {
        this.state = 'awaiting_log';
        this.request();
      },
    },
    awaiting_log: { 'dir.log': (m: DiscoveryMessage) => this.onLog(m as DirLog) },
  };

  private readonly entries: Uint8Array[] = [];
  private cursor: LogCursor;
  private readonly maxEntries: number;
  private readonly pageEntries: number;

  constructor(private readonly options: LogQueryOptions) {
    super(DEFAULT_DISCOVERY_LIMITS.maxMessageBytes, discoverySchemas(DEFAULT_DISCOVERY_LIMITS), options.idleTimeoutMs ?? 30_000);
    this.cursor = emptyLog(options.identityKey);
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_LOG_ENTRIES;
    this.pageEntries = options.pageEntries ?? MAX_LOG_ENTRIES_PER_MESSAGE;
    if (!(Number.isSafeInteger(this.pageEntries) && this.pageEntries >= 1 && this.pageEntries <= MAX_LOG_ENTRIES_PER_MESSAGE)) {
      throw new ContactPsiError('invalid_option', `pageEntries must be 1..${MAX_LOG_ENTRIES_PER_MESSAGE}`);
    }
  }

  isFinished(): boolean {
    return this.state === 'done';
  }

  start(now: number): void {
    if (this.state !== 'idle') throw new ProtocolError('unexpected_message', 'log query already started');
    this.touch(now);
    this.send({ t: 'dir.hello', suite: this.options.suite });
    this.state = 'awaiting_info';
  }

  private request(): void {
    const from = this.entries.length;
    this.send({ t: 'dir.log.get', from, limit: Math.max(1, Math.min(this.pageEntries, this.maxEntries - from)) });
  }

  private onLog(msg: DirLog): void {
    const from = this.entries.length;
    if (msg.entries.length > Math.min(this.pageEntries, this.maxEntries - from)) throw new ProtocolError('too_large', 'dir.log holds more entries than asked for');
    for (const entry of msg.entries) {
      this.cursor = appendEntry(this.cursor, entry);
      this.entries.push(entry);
    }
    const wanted = Math.min(msg.total, this.maxEntries);
    // An empty answer below the announced total is a server that does not follow the protocol.
    if (this.entries.length < wanted && msg.entries.length === 0) throw new ProtocolError('bad_log', `dir.log stops at entry ${from} of ${msg.total}`);
    if (this.entries.length < wanted) return this.request();
    this.state = 'done';
    this.emit({ type: 'result', result: { entries: this.entries, cursor: this.cursor, total: msg.total } });
  }
}
