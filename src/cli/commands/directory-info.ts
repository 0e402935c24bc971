/**
 * `contact-psi directory info --db <path|url> [--json]`: what a client operator needs to
 * configure pins (spec/verifiability.md §9): the directory identity key (`sync
 * --pin-identity`), every epoch key the identity signed, and the current announcement,
 * read from the announcement log and verified entry by entry (a broken log is an error, not
 * a print-out). Reads only public data: the identity's secret key is not opened when the log
 * names the identity; before the first `serve` (empty log), the identity file's public key.
 */
import { existsSync } from 'node:fs';
import { openSigned, type Announcement, type EpochKeyStatement } from '../../protocol/discovery/announcement.js';
import { appendEntry, emptyLog } from '../../protocol/discovery/announcement-log.js';
import { identityKeyPath, loadIdentityKeyFile } from '../../directory/identity-key.js';
import { openStore, redactStoreUrl, sqlitePathOf } from '../../directory/open-store.js';

const PAGE = 10_000;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export interface DirectoryInfo {
  identity: string | undefined;
  epochKeys: { seq: number; epoch: number; suite: string; publicKey: string; validFrom?: number }[];
  announcement: { seq: number; epoch: number; version: number; count: number; commitment: string; encoding: string; snapshotDigest: string } | undefined;
  logEntries: number;
}

/** Reads and verifies the log of the store at `db`. */
export async function readDirectoryInfo(db: string): Promise<DirectoryInfo> {
  const store = await openStore(db);
  try {
    let cursor = emptyLog();
    const epochKeys: DirectoryInfo['epochKeys'] = [];
    const total = await store.logLength();
    for (let from = 0; from < total; from += PAGE) {
      for (const entry of await store.readLog(from, PAGE)) {
        cursor = appendEntry(cursor, entry.envelope);
        const s = openSigned(entry.envelope).statement;
        if (s.kind === 'epoch-key') epochKeys.push(keyOf(s));
      }
    }
    const latest = cursor.latest?.statement;
    let identity = cursor.identityKey && hex(cursor.identityKey);
    const path = sqlitePathOf(db);
    if (identity === undefined && path !== undefined && existsSync(identityKeyPath(path))) identity = hex(loadIdentityKeyFile(identityKeyPath(path)).publicKey);
    return { identity, epochKeys, announcement: latest && announcementOf(latest), logEntries: cursor.length };
  } finally {
    await store.close();
  }
}

const keyOf = (s: EpochKeyStatement): DirectoryInfo['epochKeys'][number] => ({
  seq: s.seq,
  epoch: s.epoch,
  suite: s.suite,
  publicKey: hex(s.publicKey),
  ...(s.validFrom === undefined ? {} : { validFrom: s.validFrom }),
});

const announcementOf = (a: Announcement): NonNullable<DirectoryInfo['announcement']> => ({
  seq: a.seq,
  epoch: a.epoch,
  version: a.version,
  count: a.count,
  commitment: hex(a.commitment),
  encoding: a.encoding,
  snapshotDigest: hex(a.snapshotDigest),
});

export async function directoryInfo(options: { db: string; json?: boolean }): Promise<void> {
  const info = await readDirectoryInfo(options.db);
  if (options.json) {
    console.log(JSON.stringify(info, null, 2));
    return;
  }
  console.log(`directory ${redactStoreUrl(options.db)}`);
  console.log(`identity key: ${info.identity ?? '(none yet: run `contact-psi serve` once)'}`);
  console.log(`  pin it with: contact-psi sync --pin-identity ${info.identity ?? '<identity key>'}`);
  for (const k of info.epochKeys) {
    console.log(`epoch ${k.epoch} key (${k.suite}): ${k.publicKey}${k.validFrom === undefined ? '' : ` from ${new Date(k.validFrom).toISOString()}`} [log entry ${k.seq}]`);
  }
  const a = info.announcement;
  if (a === undefined) console.log('announcement: none yet (a server signs one when it serves a version)');
  else {
    console.log(`announcement: epoch ${a.epoch} version ${a.version}, ${a.count} entries [log entry ${a.seq} of ${info.logEntries}]`);
    console.log(`  commitment ${a.commitment}`);
    console.log(`  snapshot (${a.encoding}) sha256 ${a.snapshotDigest}`);
  }
}
