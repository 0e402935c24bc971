import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';

/**
 * The server's key for quota receipts (32 bytes, hex, mode 0600), beside the directory. It
 * must survive restarts, or every client's receipt would stop verifying and old contacts
 * would be charged again.
 */
export function loadOrCreateQuotaKey(path: string): Uint8Array {
  try {
    if ((statSync(path).mode & 0o077) !== 0) throw new Error(`${path} is readable by others; chmod 600 it`);
    const key = new Uint8Array(Buffer.from(readFileSync(path, 'utf8').trim(), 'hex'));
    if (key.length !== 32) throw new Error(`${path} does not hold a 32-byte hex key`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = new Uint8Array(randomBytes(32));
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, Buffer.from(key).toString('hex') + '\n');
  } finally {
    closeSync(fd);
  }
  return key;
}
