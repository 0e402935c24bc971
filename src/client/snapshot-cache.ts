/**
 * The client's on-disk cache of directory snapshots: one folder per server, the snapshot
 * bytes and a small JSON with epoch, version, digest and the epoch's public key. Writes
 * are atomic (temp file + rename), and a cached snapshot whose SHA-256 does not match its
 * recorded digest is ignored, so a torn write or a tampered file is never used.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CachedSnapshot, QuotaReceipt } from '../protocol/discovery/client.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** OpenSSL's SHA-256: this file is Node-only, and a snapshot of a large directory is megabytes. */
const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

interface CacheMeta {
  server: string;
  epoch: number;
  version: number;
  baseVersion?: number;
  digest: string;
  infoDigest?: string;
  publicKey: string;
  added?: string;
  removed?: string;
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
      return {
        epoch: meta.epoch,
        version: meta.version,
        baseVersion: meta.baseVersion ?? meta.version,
        digest: unhex(meta.digest),
        infoDigest: meta.infoDigest ? unhex(meta.infoDigest) : undefined,
        publicKey: unhex(meta.publicKey),
        bytes,
        added: unhex(meta.added ?? ''),
        removed: unhex(meta.removed ?? ''),
      };
    } catch {
      return undefined;
    }
  }

  save(snapshot: CachedSnapshot): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const meta: CacheMeta = {
      server: this.server,
      epoch: snapshot.epoch,
      version: snapshot.version,
      baseVersion: snapshot.baseVersion ?? snapshot.version,
      digest: hex(snapshot.digest),
      infoDigest: snapshot.infoDigest ? hex(snapshot.infoDigest) : undefined,
      publicKey: hex(snapshot.publicKey),
      added: hex(snapshot.added ?? new Uint8Array(0)),
      removed: hex(snapshot.removed ?? new Uint8Array(0)),
    };
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

  /** The quota receipt of the last sync (token + charged set), so old contacts are not charged again. */
  loadReceipt(): QuotaReceipt | undefined {
    try {
      const rec = JSON.parse(readFileSync(join(this.dir, 'quota-receipt.json'), 'utf8')) as { token: string; set: string };
      return { token: unhex(rec.token), set: unhex(rec.set) };
    } catch {
      return undefined;
    }
  }

  saveReceipt(receipt: QuotaReceipt): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    atomicWrite(join(this.dir, 'quota-receipt.json'), JSON.stringify({ token: hex(receipt.token), set: hex(receipt.set) }));
  }

  pin(epoch: number, publicKey: Uint8Array): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    atomicWrite(join(this.dir, 'pinned-key.json'), JSON.stringify({ server: this.server, epoch, publicKey: hex(publicKey) } satisfies PinRecord));
  }
}

/**
 * The device secret for deterministic blinding (32 bytes, created once, mode 0600): with it
 * a contact checked before is recognized and not charged again. It never leaves the device.
 */
export function deviceSecret(root: string): Uint8Array {
  const path = join(root, 'device-secret');
  try {
    const bytes = new Uint8Array(readFileSync(path));
    if (bytes.length !== 32) throw new Error(`${path} is not a 32-byte device secret; move it away to start over`);
    return bytes;
  } catch (err) {
    // Only a missing file means "first run": replacing the secret after a passing read
    // error would change every blind and have every contact charged again.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const secret = new Uint8Array(randomBytes(32));
  atomicWrite(path, secret);
  return secret;
}

function atomicWrite(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}
