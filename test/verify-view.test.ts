import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { identityPublicKey } from '../src/protocol/discovery/announcement.js';
import { commitPrefixes } from '../src/protocol/discovery/commitment.js';
import { newPins } from '../src/protocol/discovery/identity-pins.js';
import { acceptServedView, checkDelta, checkSnapshot, type ServedInfo } from '../src/protocol/discovery/verified-view.js';
import { VerifiabilityError } from '../src/protocol/discovery/verify-error.js';
import { codeOf, identitySecret, LogBuilder } from './helpers/verify-log.js';

const secret = identitySecret(1);
const identity = identityPublicKey(secret);
const hexes = (list: string[]) => new Uint8Array(Buffer.from(list.join(''), 'hex'));

function setup() {
  const v1Set = ['1000000000000001', '2000000000000002'];
  const v2Set = ['1000000000000001', '3000000000000003', '4000000000000004'];
  const snapshot1 = new Uint8Array([1, 2, 3]);
  const snapshot2 = new Uint8Array([4, 5, 6]);
  const c1 = commitPrefixes(hexes(v1Set));
  const c2 = commitPrefixes(hexes(v2Set));
  const log = new LogBuilder(secret, 31);
  const publicKey = new Uint8Array(32).fill(5);
  const key = log.rotate(1, publicKey);
  const a1 = log.announce(1, { count: c1.count, commitment: c1.digest, snapshotDigest: sha256(snapshot1) });
  const a2 = log.announce(1, { count: c2.count, commitment: c2.digest, snapshotDigest: sha256(snapshot2) });
  const info = (a: typeof a1): ServedInfo => ({ suite: 'ristretto255-SHA512', epoch: 1, version: a.statement.version, publicKey, digest: a.statement.snapshotDigest, encoding: 'raw', count: a.statement.count });
  return { key, a1, a2, info, snapshot1, snapshot2, c1, c2 };
}

describe('the served view against the signed one', () => {
  it('an honest first sync (download) and re-sync (delta) pass and give the commitment to keep', () => {
    const { key, a1, a2, info, snapshot1, c1, c2 } = setup();
    const first = acceptServedView(newPins({ identityKey: identity }), key.bytes, a1.bytes, info(a1));
    expect(checkSnapshot(first.announcement, snapshot1)).toEqual(c1);
    const second = acceptServedView(first.state, key.bytes, a2.bytes, info(a2));
    const held = checkDelta(c1, hexes(['3000000000000003', '4000000000000004']), hexes(['2000000000000002']), second.announcement);
    expect(held).toEqual(c2);
  });

  it('dir.info that differs from what was signed is refused: key_conflict for the key, split_view for the tags', () => {
    const { key, a1, info } = setup();
    const pins = newPins({ identityKey: identity });
    const i = info(a1);
    expect(codeOf(() => acceptServedView(pins, key.bytes, a1.bytes, { ...i, publicKey: new Uint8Array(32).fill(6) }))).toBe('key_conflict');
    expect(codeOf(() => acceptServedView(pins, key.bytes, a1.bytes, { ...i, suite: 'P256-SHA256' }))).toBe('key_conflict');
    expect(codeOf(() => acceptServedView(pins, key.bytes, a1.bytes, { ...i, digest: new Uint8Array(32) }))).toBe('split_view');
    expect(codeOf(() => acceptServedView(pins, key.bytes, a1.bytes, { ...i, count: i.count + 1 }))).toBe('split_view');
    expect(codeOf(() => acceptServedView(pins, key.bytes, a1.bytes, { ...i, version: i.version + 1 }))).toBe('split_view');
    expect(codeOf(() => acceptServedView(pins, key.bytes, a1.bytes, { ...i, encoding: 'fuse' }))).toBe('split_view');
  });

  it('a private snapshot and a lying delta are split_view, with the signed announcement as evidence', () => {
    const { key, a1, a2, info, snapshot1, c1 } = setup();
    const first = acceptServedView(newPins({ identityKey: identity }), key.bytes, a1.bytes, info(a1));
    const privateSnapshot = snapshot1.map((b) => b ^ 1);
    expect(codeOf(() => checkSnapshot(first.announcement, privateSnapshot))).toBe('split_view');
    const second = acceptServedView(first.state, key.bytes, a2.bytes, info(a2));
    // Plants 7777... (the issue 10 §1 attack) instead of adding 4000...
    try {
      checkDelta(c1, hexes(['3000000000000003', '7777777777777777']), hexes(['2000000000000002']), second.announcement);
      expect.unreachable();
    } catch (err) {
      expect((err as VerifiabilityError).code).toBe('split_view');
      expect((err as VerifiabilityError).evidence).toEqual([a2.bytes]);
    }
    expect(codeOf(() => checkDelta(c1, new Uint8Array(5), new Uint8Array(0), second.announcement))).toBe('bad_field');
  });
});
