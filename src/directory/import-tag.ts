/**
 * F_k and the label seal of every identifier of one staged batch (import-stream.ts), with
 * as little per-identifier allocation on the main thread as the evaluator's interface
 * allows: the identifiers' UTF-8 in ONE buffer (views into it, no TextEncoder array with
 * a backing store of its own per identifier), the user record itself as the label to seal
 * (one object per user, not per identifier), and the results kept as the evaluator returns
 * them, indexed by each user's first tag (`StagedUser.tagAt`), not copied into an object
 * per identifier. Backing stores cost the import more than their bytes: each is a malloc,
 * a registry entry and a sweep on the GC's helper threads.
 *
 * Same tags and seals as precompute.ts evaluateAndSeal (the identifiers are canonical:
 * checkRow made them with toIdentifier, so identifierBytes' parse would only repeat that).
 */
import type { OprfSuite } from '../oprf/suite.js';
import { ContactPsiError } from '../errors.js';
import type { TagEvaluator } from './precompute.js';
import { randomNonces, sealWithLookupKeys, type LabelToSeal, type SealedLabel } from './seal.js';

/** A batch's tags and seals, in the order its discoverable users' identifiers come. */
export interface BatchTags {
  readonly tags: readonly Uint8Array[];
  readonly seals: readonly SealedLabel[];
}

/** The users of a batch as tagBatch reads them (import-stage.ts StagedUser). */
export interface TaggableUser {
  readonly user: { readonly userId: string; readonly identifiers: readonly string[]; readonly label: Uint8Array; readonly discoverable: boolean };
  /** Set here: the index in BatchTags of the user's first identifier (a hidden user gets none). */
  tagAt?: number;
}

const utf8 = new TextEncoder();

/**
 * Evaluates and seals the identifiers of the batch's discoverable users (a hidden user gets
 * no tag: precompute would drop it), setting each one's `tagAt`. Undefined when the batch
 * has nothing to tag.
 */
export async function tagBatch(
  suite: OprfSuite,
  secretKey: Uint8Array,
  evaluator: TagEvaluator | undefined,
  users: readonly TaggableUser[],
): Promise<BatchTags | undefined> {
  let n = 0;
  let bytesNeeded = 0;
  for (const u of users) {
    if (!u.user.discoverable) continue;
    u.tagAt = n;
    n += u.user.identifiers.length;
    for (const identifier of u.user.identifiers) bytesNeeded += Buffer.byteLength(identifier, 'utf8');
  }
  if (n === 0) return undefined;
  // The exact UTF-8 size: 3 bytes per UTF-16 unit (the bound) would hold three times the
  // data of an ASCII file in every batch in flight (red team wave 5: ~205 MB per batch of
  // the longest addresses allowed).
  const bytes = new Uint8Array(bytesNeeded);
  const inputs = new Array<Uint8Array>(n);
  const labels = new Array<LabelToSeal>(n);
  let at = 0;
  let i = 0;
  for (const u of users) {
    if (!u.user.discoverable) continue;
    for (const identifier of u.user.identifiers) {
      const { written } = utf8.encodeInto(identifier, bytes.subarray(at));
      inputs[i] = bytes.subarray(at, at + written);
      labels[i++] = u.user; // its userId and label: what the seal covers
      at += written;
    }
  }
  // encodeInto stops where the buffer ends: a size that disagreed would cut an identifier.
  if (at !== bytes.length) throw new ContactPsiError('internal_error', 'identifier bytes disagree with their UTF-8 length');
  const result = await evaluate(suite, secretKey, evaluator, inputs, labels);
  if (result.tags.length !== n || result.seals.length !== n) {
    throw new ContactPsiError('evaluator_failed', `evaluator returned ${result.tags.length} tags and ${result.seals.length} seals for ${n} identifiers`);
  }
  return result;
}

async function evaluate(suite: OprfSuite, secretKey: Uint8Array, evaluator: TagEvaluator | undefined, inputs: Uint8Array[], labels: LabelToSeal[]): Promise<BatchTags> {
  if (evaluator?.evaluateAndSeal !== undefined) return evaluator.evaluateAndSeal(secretKey, inputs, labels, randomNonces(inputs.length));
  const tags = evaluator === undefined ? suite.evaluate(secretKey, inputs) : await evaluator(secretKey, inputs);
  if (tags.length !== inputs.length) return { tags, seals: [] };
  return { tags, seals: sealWithLookupKeys(tags.map((tag, k) => ({ tag, userId: labels[k].userId, label: labels[k].label }))) };
}
