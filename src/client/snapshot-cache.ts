/**
 * The client's on-disk cache of directory snapshots: one folder per server, the snapshot
 * bytes and a small JSON with epoch, version, digest and the epoch's public key. Writes
 * are atomic (temp file + rename), and a cached snapshot whose SHA-256 does not match its
 * recorded digest is ignored, so a torn write or a tampered file is never used.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CachedSnapshot } from '../protocol/discovery/client.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

interface CacheMeta {
  server: string;
  epoch: number;
  version: number;
  digest: string;
  publicKey: string;
}

/** Keys seen per server (trust on first use): epoch -> public key. */
interface PinRecord {
  server: string;
  epoch: number;
  publicKey: string;
}

export class SnapshotCache {
  readonly dir: string;
  private readonly server: string;

  constructor(root: string, server: string) {
    this.dir = join(root, hex(sha256(new TextEncoder().encode(server))).slice(0, 16));
    this.server = server;
  }

  load(): CachedSnapshot | undefined {
    try {
      const meta = JSON.parse(readFileSync(join(this.dir, 'snapshot.json'), 'utf8')) as CacheMeta;
      const bytes = new Uint8Array(readFileSync(join(this.dir, 'snapshot.bin')));
      if (hex(sha256(bytes)) !== meta.digest) return undefined;
      return { epoch: meta.epoch, version: meta.version, digest: unhex(meta.digest), publicKey: unhex(meta.publicKey), bytes };
    } catch {
      return undefined;
    }
  }

  save(snapshot: CachedSnapshot): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const meta: CacheMeta = { server: this.server, epoch: snapshot.epoch, version: snapshot.version, digest: hex(snapshot.digest), publicKey: hex(snapshot.publicKey) };
    atomicWrite(join(this.dir, 'snapshot.bin'), snapshot.bytes);
    atomicWrite(join(this.dir, 'snapshot.json'), JSON.stringify(meta, null, 1));
  }

  /** The key pinned on first use, if any. */
  pinned(): { epoch: number; publicKey: Uint8Array } | undefined {
    const path = join(this.dir, 'pinned-key.json');
    if (!existsSync(path)) return undefined;
    const rec = JSON.parse(readFileSync(path, 'utf8')) as PinRecord;
    return { epoch: rec.epoch, publicKey: unhex(rec.publicKey) };
  }

  pin(epoch: number, publicKey: Uint8Array): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    atomicWrite(join(this.dir, 'pinned-key.json'), JSON.stringify({ server: this.server, epoch, publicKey: hex(publicKey) } satisfies PinRecord));
  }
}

function atomicWrite(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}
