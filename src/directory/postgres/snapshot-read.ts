/**
 * Reads one stored snapshot row with `COPY ... TO STDOUT (FORMAT binary)`
 * (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"): the bytes arrive
 * as they are stored. A plain query returns bytea as hex text (node-postgres has no binary
 * result mode), so a 3.9 MB snapshot (1M users) was 7.8 MB of hex encoded by the server,
 * decoded into a string and parsed back by every follower at every change: about 0.1 s of
 * CPU per node on the path of a change to the fleet (bench -- fleet --timeline).
 */
import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { ContactPsiError } from '../../errors.js';
import type { EncodingKind } from '../../setenc/types.js';
import type { SnapshotRecord } from '../types.js';

/** "PGCOPY\n\xff\r\n\0", then 32-bit flags and the header extension's length. */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

const corrupt = (what: string) => new ContactPsiError('store_corrupt', `the stored snapshot row is malformed: ${what}`);

/** The fields of the one tuple in a binary COPY stream (undefined: no tuple), each a Buffer or null. */
export function parseBinaryCopyRow(data: Buffer): (Buffer | null)[] | undefined {
  if (data.length < SIGNATURE.length + 8 || !data.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw corrupt('no binary COPY header');
  let at = SIGNATURE.length + 4;
  at += 4 + data.readUInt32BE(at);
  const need = (n: number) => {
    if (at + n > data.length) throw corrupt('truncated');
  };
  need(2);
  const fields = data.readInt16BE(at);
  at += 2;
  if (fields === -1) return undefined; // the trailer: no row
  const out: (Buffer | null)[] = [];
  for (let i = 0; i < fields; i++) {
    need(4);
    const length = data.readInt32BE(at);
    at += 4;
    if (length === -1) {
      out.push(null);
      continue;
    }
    need(length);
    out.push(data.subarray(at, at + length));
    at += length;
  }
  return out;
}

const int8 = (b: Buffer | null | undefined): number => {
  if (b === null || b === undefined || b.length !== 8) throw corrupt('integer field');
  const n = b.readBigInt64BE(0);
  if (n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`integer ${n} out of range`);
  return Number(n);
};

/**
 * The snapshot of (`epoch`, `kind`) stored, at exactly `version` if given; undefined if there
 * is none (or it is of another version). On `client`, inside the caller's transaction if any.
 */
export async function readSnapshotRow(client: PoolClient, epoch: number, kind: EncodingKind, version?: number): Promise<SnapshotRecord | undefined> {
  // COPY takes no parameters: every value put in the statement is checked first.
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new ContactPsiError('invalid_option', `epoch must be a non-negative integer, got ${String(epoch)}`);
  if (version !== undefined && (!Number.isSafeInteger(version) || version < 0)) throw new ContactPsiError('invalid_option', `version must be a non-negative integer, got ${String(version)}`);
  if (!/^[a-z0-9]{1,16}$/.test(kind)) throw new ContactPsiError('invalid_option', 'unknown snapshot encoding');
  const where = `epoch = ${epoch} AND kind = '${kind}'${version === undefined ? '' : ` AND version = ${version}`}`;
  const stream = client.query(copyTo(`COPY (SELECT version, count, digest, bytes FROM snapshots WHERE ${where}) TO STDOUT (FORMAT binary)`));
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  const row = parseBinaryCopyRow(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  if (row === undefined) return undefined;
  const [v, count, digest, bytes] = row;
  if (row.length !== 4 || digest === null || digest === undefined || bytes === null || bytes === undefined) throw corrupt('missing field');
  return { epoch, kind, version: int8(v), count: int8(count), digest: digest.toString('utf8'), bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}
