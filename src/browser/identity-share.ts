/**
 * What a sync may write where every URL of a directory identity reads it (spec/sync-failover.md §1).
 *
 * "Verified identity X" means only that dir.info carried X's signed key statement and
 * announcement: public, replayable documents. Any server at another URL can present them,
 * relaying to X with the client's token, or replaying X's snapshot when every contact already
 * has an output (then nothing needs a DLEQ proof). So a sync's answers split in two:
 *
 * - facts about X: an OPRF output whose DLEQ proof verified against the epoch key X signed.
 *   Nobody without X's OPRF key can produce one; it may be shared by every URL of X;
 * - what the server merely asserts: a label lookup answered "none" (absence is not
 *   authenticated), a quota receipt (MAC'd by the server's quota key, opaque to the client),
 *   the version its labels were checked at. Written into the identity's scope, a relay's
 *   "none" hid X's matches at X's own URL and its made-up receipt replaced X's (red team,
 *   wave 3). These stay with the URL that answered them, unless the user declared that URL to
 *   be X's: a node of the fleet given to syncAcrossFleet (`fleet`), or a sync configured with
 *   X's identity key (`pinnedIdentityKey`). Trust on first use is no declaration: a
 *   persistent relay pins X on its first sync.
 *
 * Nothing here touches I/O: sync-core.ts loads and saves.
 */
import { outputsUsable, type KnownOutput, type KnownOutputs } from '../protocol/discovery/known-outputs.js';

/** Whether the user declared `server` a URL of the identity it verifies as (see above). */
export function declaredForIdentity(server: string, options: { fleet?: readonly string[]; pinnedIdentityKey?: Uint8Array }): boolean {
  return options.pinnedIdentityKey !== undefined || (options.fleet?.includes(server) ?? false);
}

/**
 * The identity's outputs after an undeclared URL's sync added its verified ones: `shared`
 * (what the identity holds, written by declared URLs only) keeps every entry as it is, and
 * gains each output of `fresh` it lacks, as an output only (`labelChecked: false`: no label
 * state, no match or non-match of the undeclared server is carried over; a filter hit among
 * them is asked for its label at the next sync). Undefined when there is nothing to add, or
 * when `shared` belongs to another epoch, key or identity (an undeclared URL must not
 * replace it: a replayed old epoch would make X's next sync evaluate, and pay for, the book
 * again).
 */
export function withVerifiedOutputs(shared: KnownOutputs | undefined, fresh: KnownOutputs): KnownOutputs | undefined {
  if (fresh.identity === undefined) return undefined;
  if (shared !== undefined && !outputsUsable(shared, { identity: fresh.identity, epoch: fresh.epoch, publicKey: fresh.publicKey })) return undefined;
  const entries = new Map<string, KnownOutput>(shared?.entries ?? []);
  let added = 0;
  for (const [identifier, entry] of fresh.entries) {
    if (entries.has(identifier)) continue;
    entries.set(identifier, { output: entry.output, labelChecked: false });
    added++;
  }
  if (added === 0) return undefined;
  // -1: no label was checked at any version for what was added (partialOutputs does the same).
  return { identity: fresh.identity, epoch: fresh.epoch, publicKey: fresh.publicKey, version: shared?.version ?? -1, entries };
}
