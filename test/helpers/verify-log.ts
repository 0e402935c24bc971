/**
 * Builds honest directory logs for the verifiability tests: statements and announcements
 * with the right seq and prev, signed by one identity key.
 */
import { entryHash, GENESIS_PREV, signStatement, type Announcement, type EpochKeyStatement, type Signed } from '../../src/protocol/discovery/announcement.js';
import type { EncodingKind } from '../../src/setenc/types.js';
import { seededRng } from './rng.js';

export class LogBuilder {
  readonly entries: Signed[] = [];
  private epoch = 0;
  private version = 0;
  private readonly rng: (n: number) => Uint8Array;

  constructor(
    readonly secretKey: Uint8Array,
    seed = 1,
  ) {
    this.rng = seededRng(seed);
  }

  get bytes(): Uint8Array[] {
    return this.entries.map((e) => e.bytes);
  }

  private position(): { seq: number; prev: Uint8Array } {
    const last = this.entries.at(-1);
    return { seq: this.entries.length, prev: last ? entryHash(last.body) : GENESIS_PREV };
  }

  /** A new epoch (a rotation), `gap` epochs after the current one. */
  rotate(gap = 1, publicKey: Uint8Array = this.rng(32)): Signed<EpochKeyStatement> {
    this.epoch += gap;
    this.version = 0;
    const s = signStatement({ kind: 'epoch-key', ...this.position(), suite: 'ristretto255-SHA512', epoch: this.epoch, publicKey, validFrom: 1_700_000_000_000 + this.epoch }, this.secretKey);
    this.entries.push(s);
    return s;
  }

  /** The next announcement of the current epoch, `gap` versions later. */
  announce(gap = 1, fields: Partial<Pick<Announcement, 'count' | 'commitment' | 'encoding' | 'snapshotDigest'>> = {}): Signed<Announcement> {
    this.version += gap;
    const a = signStatement(
      {
        kind: 'announcement',
        ...this.position(),
        epoch: this.epoch,
        version: this.version,
        count: fields.count ?? this.version * 10,
        commitment: fields.commitment ?? this.rng(32),
        encoding: fields.encoding ?? ('raw' as EncodingKind),
        snapshotDigest: fields.snapshotDigest ?? this.rng(32),
      },
      this.secretKey,
    );
    this.entries.push(a);
    return a;
  }
}

export const identitySecret = (seed: number): Uint8Array => seededRng(1000 + seed)(32);

export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code ?? 'no-code';
  }
  return undefined;
}
