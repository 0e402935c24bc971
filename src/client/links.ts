/**
 * Manual links: the user ties an address-book entry (by contact key) to a user id by hand.
 * They live only on the device, in `links.json` in the cache folder (mode 0600, atomic
 * writes), and are never given to the transport: the server cannot learn whom the user
 * linked. The SDK merges them into every result (merge.ts).
 */
import { join } from 'node:path';
import { renameSync } from 'node:fs';
import { ContactPsiError } from '../errors.js';
import { isPlainObject, readJsonFile, writeJsonFileAtomic } from './local-file.js';

export const LINKS_FILE = 'links.json';

export interface ManualLink {
  contactKey: string;
  userId: string;
  /** When the link was made (ms since the epoch, SDK clock). */
  linkedAt: number;
}

export const LINK_LIMITS = Object.freeze({
  maxContactKeyLength: 512,
  maxUserIdLength: 1024,
  /** As many as identifiers per discovery session (DiscoveryLimits.maxQueryItems). */
  maxLinks: 100_000,
});

const isLink = (v: unknown): v is ManualLink =>
  isPlainObject(v) && typeof v.contactKey === 'string' && typeof v.userId === 'string' && typeof v.linkedAt === 'number';

function checkText(what: string, value: unknown, max: number): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new ContactPsiError('invalid_input', `${what} must be a non-empty string of at most ${max} characters`);
  }
}

export class LinkStore {
  readonly path: string;

  constructor(cacheDir: string) {
    this.path = join(cacheDir, LINKS_FILE);
  }

  /**
   * Every link, sorted by contact key; read from disk each time (cheap, and a second SDK
   * instance on the same folder sees the same links). A malformed file is moved aside to
   * `links.json.corrupt-<time>` (kept for recovery, not silently overwritten) and read as empty.
   */
  list(): ManualLink[] {
    let data: unknown;
    try {
      data = readJsonFile(this.path);
    } catch {
      data = null;
    }
    if (data === undefined) return [];
    if (!isPlainObject(data) || data.version !== 1 || !Array.isArray(data.links) || !data.links.every(isLink)) {
      renameSync(this.path, `${this.path}.corrupt-${Date.now()}`);
      return [];
    }
    return (data.links as ManualLink[]).map((l) => ({ contactKey: l.contactKey, userId: l.userId, linkedAt: l.linkedAt }));
  }

  get(contactKey: string): ManualLink | undefined {
    return this.list().find((l) => l.contactKey === contactKey);
  }

  /** Links (or re-links) one contact; the newest link of a contact replaces the old one. */
  set(contactKey: string, userId: string, now: number): ManualLink {
    checkText('contactKey', contactKey, LINK_LIMITS.maxContactKeyLength);
    checkText('userId', userId, LINK_LIMITS.maxUserIdLength);
    const others = this.list().filter((l) => l.contactKey !== contactKey);
    if (others.length >= LINK_LIMITS.maxLinks) throw new ContactPsiError('too_large', `at most ${LINK_LIMITS.maxLinks} manual links`);
    const link: ManualLink = { contactKey, userId, linkedAt: now };
    this.#write([...others, link]);
    return link;
  }

  /** True when a link was removed. */
  remove(contactKey: string): boolean {
    const all = this.list();
    const rest = all.filter((l) => l.contactKey !== contactKey);
    if (rest.length === all.length) return false;
    this.#write(rest);
    return true;
  }

  #write(links: ManualLink[]): void {
    links.sort((a, b) => (a.contactKey < b.contactKey ? -1 : a.contactKey > b.contactKey ? 1 : 0));
    writeJsonFileAtomic(this.path, { version: 1, links });
  }
}
