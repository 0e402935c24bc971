/**
 * src/browser/identity-share.ts: what an undeclared URL may add to the identity's outputs
 * (spec/sync-failover.md §1). Properties: the identity's entries are never changed; what is
 * added is the output only (no label state, no match, no non-match); a record of another
 * epoch, key or identity is never replaced; only a configured identity or the fleet list
 * declares a URL.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { declaredForIdentity, withVerifiedOutputs } from '../src/browser/identity-share.js';
import type { KnownOutput, KnownOutputs } from '../src/protocol/discovery/known-outputs.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const entryArb: fc.Arbitrary<KnownOutput> = fc.record({
  output: bytes(4),
  labelChecked: fc.boolean(),
  match: fc.option(fc.record({ userId: fc.string({ maxLength: 4 }), label: bytes(2) }), { nil: undefined }),
});
const entriesArb = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), entryArb, { maxKeys: 6 }).map((d) => new Map(Object.entries(d)));
const IDENTITY = new Uint8Array(32).fill(1);
const KEY = new Uint8Array(32).fill(2);
const recordArb = (over: fc.Arbitrary<Partial<KnownOutputs>>): fc.Arbitrary<KnownOutputs> =>
  fc.tuple(entriesArb, fc.nat(9), over).map(([entries, version, o]) => ({ identity: IDENTITY, epoch: 1, publicKey: KEY, version, entries, ...o }));
const same = fc.constant({});
const other = fc.constantFrom<Partial<KnownOutputs>>({ epoch: 2 }, { publicKey: new Uint8Array(32).fill(3) }, { identity: new Uint8Array(32).fill(4) });

describe('withVerifiedOutputs', () => {
  it('keeps every entry of the identity as it is and adds the others as outputs only', () => {
    fc.assert(
      fc.property(fc.option(recordArb(same), { nil: undefined }), recordArb(same), (shared, fresh) => {
        const merged = withVerifiedOutputs(shared, fresh);
        const added = [...fresh.entries.keys()].filter((id) => !shared?.entries.has(id));
        if (added.length === 0) {
          expect(merged).toBeUndefined();
          return;
        }
        expect(merged).toBeDefined();
        for (const [id, entry] of shared?.entries ?? []) expect(merged!.entries.get(id)).toBe(entry);
        for (const id of added) expect(merged!.entries.get(id)).toEqual({ output: fresh.entries.get(id)!.output, labelChecked: false });
        expect(merged!.entries.size).toBe((shared?.entries.size ?? 0) + added.length);
        expect(merged!.version).toBe(shared?.version ?? -1);
      }),
    );
  });

  it('never replaces a record of another epoch, key or identity, and shares nothing of an unsigned directory', () => {
    fc.assert(
      fc.property(recordArb(other), recordArb(same), (shared, fresh) => {
        expect(withVerifiedOutputs(shared, fresh)).toBeUndefined();
        expect(withVerifiedOutputs(undefined, { ...fresh, identity: undefined })).toBeUndefined();
      }),
    );
  });
});

describe('declaredForIdentity', () => {
  it('a configured identity or the fleet list declares a URL; nothing else does', () => {
    fc.assert(
      fc.property(fc.webUrl(), fc.array(fc.webUrl(), { maxLength: 3 }), fc.boolean(), (url, fleet, pinned) => {
        const pinnedIdentityKey = pinned ? IDENTITY : undefined;
        expect(declaredForIdentity(url, { fleet, pinnedIdentityKey })).toBe(pinned || fleet.includes(url));
        expect(declaredForIdentity(url, { fleet: [...fleet, url] })).toBe(true);
        expect(declaredForIdentity(url, {})).toBe(false);
      }),
    );
  });
});
