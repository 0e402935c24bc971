/**
 * Comparing the announcement a client got with what witnesses hold (spec/verifiability.md
 * §4). A witness is anyone who mirrors the directory's announcement log (dir.log) and
 * answers "what is your newest announcement, and your entry for (epoch, version)?".
 *
 * The rule, per witness (every envelope is verified under the client's pinned identity
 * first; one that is not is refused with its own code, naming the witness):
 * - it holds the client's (epoch, version): the bodies must be identical, else
 *   `split_view` (two signed commitments for one version: proof the directory equivocated);
 * - it holds the client's log position with another body: `split_view` (a forked log);
 * - its entries' log order and (epoch, version) order must agree with the client's entry
 *   (newer version at a later position), and its entry right after the client's must
 *   chain to it (`prev`): else `split_view`;
 * - it is AHEAD (holds a newer announcement) but has no entry for the client's (epoch,
 *   version): `split_view`. A witness mirrors the whole log, so a version missing from it
 *   was never published there: it was shown to this client only. Being ahead is fine
 *   exactly when the witness vouches for the client's version too; this is what stops a
 *   server from serving one client a private version v while the public log moved on;
 * - it is BEHIND (its newest is older): `behind`, no evidence either way; the client keeps
 *   its announcement pinned and the next sync (or a later witness check) settles it.
 *
 * The result lists who confirmed and who is behind; requiring a number of confirmations is
 * the caller's policy (a witness polling every minute is briefly behind after each version).
 */
import { ProtocolError } from '../errors.js';
import { entryHash, openSigned, type Announcement, type Signed } from './announcement.js';
import { bytesEqual } from './canonical-fields.js';
import { VerifiabilityError } from './verify-error.js';

export interface WitnessAnswer {
  /** How the caller names the witness (its URL), for the error. */
  readonly name: string;
  /** Signed announcement envelopes: the witness's newest, and its entry for the asked (epoch, version) if it has one. */
  readonly announcements: readonly Uint8Array[];
}

export interface WitnessComparison {
  readonly confirmed: readonly string[];
  readonly behind: readonly string[];
}

/** Most envelopes taken from one witness answer (it needs two). */
export const MAX_WITNESS_ENTRIES = 16;

const cmp = (a: Announcement, b: Announcement): number => a.epoch - b.epoch || a.version - b.version;

export function compareWithWitnesses(own: Signed<Announcement>, identityKey: Uint8Array, answers: readonly WitnessAnswer[]): WitnessComparison {
  const confirmed: string[] = [];
  const behind: string[] = [];
  for (const answer of answers) {
    const verdict = compareOne(own, identityKey, answer);
    (verdict === 'confirmed' ? confirmed : behind).push(answer.name);
  }
  return { confirmed, behind };
}

function compareOne(own: Signed<Announcement>, identityKey: Uint8Array, answer: WitnessAnswer): 'confirmed' | 'behind' {
  const { name } = answer;
  if (answer.announcements.length === 0) throw new VerifiabilityError('bad_field', `witness ${name} returned no announcement`, { witness: name });
  if (answer.announcements.length > MAX_WITNESS_ENTRIES) throw new VerifiabilityError('too_large', `witness ${name} returned ${answer.announcements.length} entries`, { witness: name });
  const mine = own.statement;
  let confirmed = false;
  let ahead = false;
  for (const bytes of answer.announcements) {
    let theirs: Signed;
    try {
      theirs = openSigned(bytes, { identityKey });
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : 'malformed';
      throw new VerifiabilityError(code, `witness ${name}: ${(err as Error).message}`, { witness: name, cause: err });
    }
    if (theirs.statement.kind !== 'announcement') throw new VerifiabilityError('bad_field', `witness ${name} returned a key statement, not an announcement`, { witness: name });
    const t = theirs.statement;
    const evidence = [own.bytes, theirs.bytes];
    const order = cmp(t, mine);
    if (order === 0 || t.seq === mine.seq) {
      if (!bytesEqual(theirs.body, own.body)) {
        throw new VerifiabilityError('split_view', `witness ${name} holds another signed announcement for epoch ${t.epoch} version ${t.version} (log position ${t.seq})`, { witness: name, evidence });
      }
      confirmed = true;
    } else if (Math.sign(order) !== Math.sign(t.seq - mine.seq) || (t.seq === mine.seq + 1 && !bytesEqual(t.prev, entryHash(own.body)))) {
      throw new VerifiabilityError('split_view', `witness ${name}: log positions, versions or the chain disagree with ours (a forked log)`, { witness: name, evidence });
    } else if (order > 0) {
      ahead = true;
    }
  }
  if (confirmed) return 'confirmed';
  if (ahead) {
    throw new VerifiabilityError('split_view', `witness ${name} is at a newer version and has no entry for epoch ${mine.epoch} version ${mine.version}: it was not published in the log`, {
      witness: name,
      evidence: [own.bytes],
    });
  }
  return 'behind';
}
