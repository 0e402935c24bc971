/**
 * The client SDK a messenger embeds: explicit consent, background syncs (every interval,
 * after address-book changes, retries with backoff), manual links kept on the device, and
 * results (directory matches merged with manual links) as events. spec/client.md.
 *
 * One discovery sync is `transport` (default syncAddressBook, over WebSocket); the SDK
 * only decides whether and when it runs, and what it is given: server, book, cacheDir,
 * token, pinnedPublicKey, onEvent — never the manual links.
 */
import { uniqueIdentifiers, type AddressBook, type ContactEntry } from '../contacts/index.js';
import { ContactPsiError } from '../errors.js';
import { hostClock, systemClock, type Clock } from './clock.js';
import { ConsentStore } from './consent.js';
import { defaultContactKey, identifierSetHash, type ContactKeyFn } from './contact-key.js';
import { LinkStore, type ManualLink } from './links.js';
import { mergeResults, type DirectoryMatch, type DiscoveredContact } from './merge.js';
import { resolvePolicy, type SchedulePolicy } from './schedule-policy.js';
import { SyncScheduler, type RetryInfo, type SyncReason } from './scheduler.js';
import { SyncStateStore } from './sync-state.js';
import { syncAddressBook, type SyncOptions } from './sync.js';

/** Exactly what a transport is given. */
export interface TransportOptions {
  server: string;
  book: AddressBook;
  cacheDir: string;
  token?: string;
  pinnedPublicKey?: Uint8Array;
  pinnedIdentityKey?: Uint8Array;
  witnesses?: string[];
  onEvent?: SyncOptions['onEvent'];
  offload?: SyncOptions['offload'];
}

/** One discovery sync; the SDK reads only `matches` of what it returns. */
export type SyncTransport = (options: TransportOptions) => Promise<{ readonly matches: readonly DirectoryMatch[] }>;

export interface ContactDiscoveryClientOptions {
  /** ws:// or wss:// URL of the directory server. */
  server: string;
  /** Folder for the snapshot cache, consent, links and sync state (created 0700). */
  cacheDir: string;
  /** Bearer token, or a function asked before each sync (tokens expire). */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /** An epoch OPRF key the directory must present (refuses every rotation; prefer pinnedIdentityKey). */
  pinnedPublicKey?: Uint8Array;
  /**
   * The directory identity key (32 bytes, from `contact-psi directory info`): every signed
   * key statement and announcement must come from it. Default: pinned on first use.
   * Configured, it also declares the server URL to be that identity's: its receipt and label
   * checks are shared with the identity's other declared URLs (spec/sync-failover.md §1);
   * pinned on first use, they stay with the URL.
   */
  pinnedIdentityKey?: Uint8Array;
  /**
   * Witness URLs (other nodes or mirrors of the directory's log): each is asked before a sync
   * evaluates anything; a witness holding another signed view fails the sync with `split_view`.
   */
  witnesses?: string[];
  /** Default: the host's clock. Tests pass a fake one. */
  clock?: Clock;
  /**
   * Whether the SDK's timers (the next background sync, a retry) keep a Node process alive.
   * Default false: they are unref'd, so a process exits when nothing else holds it, pending
   * sync or not; an app that lives on (a server, an Electron window) still gets every sync.
   * true: a process with nothing else to do stays up for the next sync (a sync daemon); call
   * stop() to let it exit. Ignored when `clock` is given.
   */
  keepAlive?: boolean;
  /** Uniform in [0, 1); only jitter uses it. Default Math.random. */
  random?: () => number;
  /** Default syncAddressBook. */
  transport?: SyncTransport;
  /** Overrides of DEFAULT_SCHEDULE_POLICY. */
  schedule?: Partial<SchedulePolicy>;
  /** Key of an address-book entry for manual links. Default defaultContactKey (name + identifiers). */
  contactKey?: ContactKeyFn;
  onResult?: (result: ContactSyncResult) => void;
  onError?: (event: SyncErrorEvent) => void;
  /** Session progress events of each sync, passed to the transport. */
  onEvent?: SyncOptions['onEvent'];
  /**
   * Blind and finalize on a worker pool (`poolOffload(pool)`), kept across syncs: for large
   * address books, every core works and the chunks are pipelined (see syncAddressBook).
   */
  offload?: SyncOptions['offload'];
}

export interface ContactSyncResult {
  /** Directory matches and manual links, per contact (merge.ts). */
  contacts: DiscoveredContact[];
  /** When the directory sync behind this result finished (SDK clock). */
  syncedAt: number;
  /** What produced it: a sync (`manual` = sdk.sync) or a change of the manual links. */
  reason: SyncReason | 'manual' | 'links';
  /** Distinct identifiers the sync checked. */
  identifiersChecked: number;
}

/** A background sync failed; `retryAt` is when it runs again (if still started and consented). */
export interface SyncErrorEvent extends RetryInfo {
  error: unknown;
}

interface LastSync {
  book: AddressBook;
  matches: readonly DirectoryMatch[];
  syncedAt: number;
  reason: SyncReason | 'manual';
  identifiersChecked: number;
}

const consentRequired = (detail = 'call grantConsent() first') =>
  new ContactPsiError('consent_required', `contact discovery needs the user's consent: ${detail}`);

export class ContactDiscoveryClient {
  readonly server: string;
  readonly cacheDir: string;
  readonly #options: ContactDiscoveryClientOptions;
  readonly #clock: Clock;
  readonly #transport: SyncTransport;
  readonly #keyOf: ContactKeyFn;
  readonly #consent: ConsentStore;
  readonly #links: LinkStore;
  readonly #state: SyncStateStore;
  readonly #scheduler: SyncScheduler;
  readonly #resultListeners = new Set<(r: ContactSyncResult) => void>();
  readonly #errorListeners = new Set<(e: SyncErrorEvent) => void>();
  #getBook: (() => AddressBook) | undefined;
  /** Syncs run one at a time: a manual sync waits for a background one and vice versa. */
  #queue: Promise<unknown> = Promise.resolve();
  #last: LastSync | undefined;

  constructor(options: ContactDiscoveryClientOptions) {
    if (typeof options.server !== 'string' || options.server === '') throw new ContactPsiError('invalid_option', 'server must be a URL');
    if (typeof options.cacheDir !== 'string' || options.cacheDir === '') throw new ContactPsiError('invalid_option', 'cacheDir must be a folder path');
    if (options.pinnedIdentityKey !== undefined && !(options.pinnedIdentityKey instanceof Uint8Array && options.pinnedIdentityKey.length === 32)) {
      throw new ContactPsiError('invalid_option', 'pinnedIdentityKey must be 32 bytes (an Ed25519 public key)');
    }
    if (options.keepAlive !== undefined && typeof options.keepAlive !== 'boolean') throw new ContactPsiError('invalid_option', 'keepAlive must be a boolean');
    if (options.witnesses !== undefined && !(Array.isArray(options.witnesses) && options.witnesses.every((w) => typeof w === 'string' && /^wss?:\/\//.test(w)))) {
      throw new ContactPsiError('invalid_option', 'witnesses must be ws:// or wss:// URLs');
    }
    this.server = options.server;
    this.cacheDir = options.cacheDir;
    this.#options = options;
    this.#clock = options.clock ?? (options.keepAlive ? hostClock({ keepAlive: true }) : systemClock);
    this.#transport = options.transport ?? syncAddressBook;
    this.#keyOf = options.contactKey ?? defaultContactKey;
    this.#consent = new ConsentStore(options.cacheDir);
    this.#links = new LinkStore(options.cacheDir);
    this.#state = new SyncStateStore(options.cacheDir);
    if (options.onResult) this.#resultListeners.add(options.onResult);
    if (options.onError) this.#errorListeners.add(options.onError);
    const random = options.random ?? Math.random;
    const consented = this.#consent.granted();
    this.#scheduler = new SyncScheduler(
      this.#clock,
      random,
      resolvePolicy(options.schedule),
      {
        run: (reason) => this.#runBackground(reason),
        currentHash: () => {
          try {
            return this.#getBook ? identifierSetHash(this.#getBook()) : undefined;
          } catch {
            return undefined; // the run reads the book again and reports the failure
          }
        },
        allowed: () => this.#consent.granted(),
        saveState: (s) => {
          try {
            this.#state.save(s);
          } catch {
            // Not fatal: the schedule is kept in memory; after a restart the next sync comes early.
          }
        },
        onRetry: (error, info) => this.#emitError({ error, ...info }),
      },
      consented ? this.#state.load() : undefined,
    );
  }

  // --- Consent -----------------------------------------------------------------------

  hasConsent(): boolean {
    return this.#consent.granted();
  }

  /** Records consent (persisted, 0600) and, if started, arms the first background sync. */
  grantConsent(): void {
    this.#consent.set(true, this.#clock.now());
    this.#scheduler.resume();
  }

  /**
   * Records the revocation, cancels pending syncs and forgets the sync state and the last
   * result. A sync already on the wire cannot be recalled; its result is discarded.
   */
  revokeConsent(): void {
    this.#consent.set(false, this.#clock.now());
    this.#scheduler.pause();
    this.#scheduler.forget();
    this.#state.clear();
    this.#last = undefined;
  }

  // --- Syncing -----------------------------------------------------------------------

  /** One sync now. Rejects with `consent_required` (and makes no network call) without consent. */
  async sync(book: AddressBook): Promise<ContactSyncResult> {
    if (!this.#consent.granted()) throw consentRequired();
    const hash = identifierSetHash(book);
    const result = await this.#enqueue(book, 'manual');
    this.#scheduler.recordSuccess(hash);
    return result;
  }

  /** Starts background syncs of `getBook()` (read at each sync); they run only with consent. */
  start(getBook: () => AddressBook): void {
    if (typeof getBook !== 'function') throw new ContactPsiError('invalid_option', 'start() needs a function returning the address book');
    this.#getBook = getBook;
    this.#scheduler.start();
  }

  stop(): void {
    this.#scheduler.stop();
  }

  /** The app's address book changed: a sync follows after a debounce, if its identifiers changed. */
  notifyAddressBookChanged(): void {
    this.#scheduler.notifyChanged();
  }

  /** The next background sync, if one is armed. */
  get nextSync(): { dueAt: number; reason: SyncReason } | undefined {
    return this.#scheduler.pending;
  }

  // --- Manual links --------------------------------------------------------------------

  contactKey(entry: ContactEntry): string {
    return this.#keyOf(entry);
  }

  link(contactKey: string, userId: string): ManualLink {
    const link = this.#links.set(contactKey, userId, this.#clock.now());
    this.#emitLinksChanged();
    return link;
  }

  unlink(contactKey: string): boolean {
    const removed = this.#links.remove(contactKey);
    if (removed) this.#emitLinksChanged();
    return removed;
  }

  links(): ManualLink[] {
    return this.#links.list();
  }

  /** The last sync's matches merged with the links as they are now; undefined before a sync. */
  lastResult(): ContactSyncResult | undefined {
    return this.#last && this.#merge(this.#last, this.#last.reason);
  }

  // --- Events --------------------------------------------------------------------------

  on(type: 'result', listener: (result: ContactSyncResult) => void): () => void;
  on(type: 'error', listener: (event: SyncErrorEvent) => void): () => void;
  on(type: 'result' | 'error', listener: ((r: ContactSyncResult) => void) | ((e: SyncErrorEvent) => void)): () => void {
    const set = (type === 'result' ? this.#resultListeners : this.#errorListeners) as Set<typeof listener>;
    set.add(listener);
    return () => void set.delete(listener);
  }

  // --- Internals -----------------------------------------------------------------------

  async #runBackground(reason: SyncReason): Promise<string> {
    if (!this.#getBook) throw new ContactPsiError('invalid_option', 'not started');
    const book = this.#getBook();
    const hash = identifierSetHash(book);
    await this.#enqueue(book, reason);
    return hash;
  }

  #enqueue(book: AddressBook, reason: SyncReason | 'manual'): Promise<ContactSyncResult> {
    const task = () => this.#syncOnce(book, reason);
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #syncOnce(book: AddressBook, reason: SyncReason | 'manual'): Promise<ContactSyncResult> {
    // Checked again here, right before the network: consent may have been revoked while queued.
    if (!this.#consent.granted()) throw consentRequired();
    const token = typeof this.#options.token === 'function' ? await this.#options.token() : this.#options.token;
    const outcome = await this.#transport(this.#transportOptions(book, token));
    if (!this.#consent.granted()) throw consentRequired('consent was revoked during the sync; its result was discarded');
    if (!Array.isArray(outcome?.matches)) throw new ContactPsiError('invalid_input', 'the transport returned no matches array');
    this.#last = { book, matches: outcome.matches, syncedAt: this.#clock.now(), reason, identifiersChecked: uniqueIdentifiers(book).length };
    const result = this.#merge(this.#last, reason);
    this.#emitResult(result);
    return result;
  }

  /** Built field by field: nothing else (links above all) can reach the transport. */
  #transportOptions(book: AddressBook, token: string | undefined): TransportOptions {
    const opts: TransportOptions = { server: this.server, book, cacheDir: this.cacheDir };
    if (token !== undefined) opts.token = token;
    if (this.#options.pinnedPublicKey !== undefined) opts.pinnedPublicKey = this.#options.pinnedPublicKey;
    if (this.#options.pinnedIdentityKey !== undefined) opts.pinnedIdentityKey = this.#options.pinnedIdentityKey;
    if (this.#options.witnesses !== undefined) opts.witnesses = [...this.#options.witnesses];
    if (this.#options.onEvent !== undefined) opts.onEvent = this.#options.onEvent;
    if (this.#options.offload !== undefined) opts.offload = this.#options.offload;
    return opts;
  }

  #merge(last: LastSync, reason: ContactSyncResult['reason']): ContactSyncResult {
    return {
      contacts: mergeResults(last.book, last.matches, this.#links.list(), this.#keyOf),
      syncedAt: last.syncedAt,
      reason,
      identifiersChecked: last.identifiersChecked,
    };
  }

  #emitLinksChanged(): void {
    if (this.#last) this.#emitResult(this.#merge(this.#last, 'links'));
  }

  // A throwing listener must not break the schedule or the other listeners.
  #emitResult(result: ContactSyncResult): void {
    for (const l of [...this.#resultListeners]) {
      try {
        l(result);
      } catch {
        /* the app's bug, not the SDK's state */
      }
    }
  }

  #emitError(event: SyncErrorEvent): void {
    for (const l of [...this.#errorListeners]) {
      try {
        l(event);
      } catch {
        /* as above */
      }
    }
  }
}
