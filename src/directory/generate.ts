/**
 * Synthetic directories for the demo, tests and benchmarks: a deterministic function of the
 * rng, with valid phone numbers (libphonenumber's full metadata), some e-mail addresses and
 * about 2% of users who opted out. Not for anything secret.
 */
import { generatePhoneNumber, randomInt, type GeneratedRegion } from '../contacts/generate.js';
import { toIdentifier } from '../contacts/identifier.js';
import { ContactPsiError } from '../errors.js';
import type { Rng } from '../group/types.js';
import type { DirectoryUser } from './types.js';
import { compareCodePoints } from './users.js';

export interface GenerateDirectoryOptions {
  /** Region the phone numbers are drawn from (default CH). */
  readonly region?: GeneratedRegion;
}

/** Out of 1000: users with an e-mail address, a second phone number, and opted out. */
const EMAIL_PER_MILLE = 300;
const SECOND_PHONE_PER_MILLE = 100;
const HIDDEN_PER_MILLE = 20;
/** Draws per number before giving up on finding an unused one (only a tiny region runs out). */
const MAX_DRAWS = 1000;

/** `count` users `user-000000`…; labels are 32 random bytes, standing in for public keys. */
export function generateDirectory(count: number, rng: Rng, options: GenerateDirectoryOptions = {}): DirectoryUser[] {
  if (!Number.isSafeInteger(count) || count < 0) throw new ContactPsiError('invalid_option', 'count must be a non-negative integer');
  const region = options.region ?? 'CH';
  const width = Math.max(6, String(count).length);
  const used = new Set<string>();
  const freshPhone = (): string => {
    for (let draw = 0; draw < MAX_DRAWS; draw++) {
      const identifier = toIdentifier('tel', generatePhoneNumber(rng, region));
      if (!used.has(identifier)) {
        used.add(identifier);
        return identifier;
      }
    }
    throw new ContactPsiError('generator_exhausted', `no unused ${region} number after ${MAX_DRAWS} draws`);
  };
  const users: DirectoryUser[] = [];
  for (let i = 0; i < count; i++) {
    const userId = `user-${String(i).padStart(width, '0')}`;
    const identifiers = [freshPhone()];
    if (randomInt(rng, 1000) < SECOND_PHONE_PER_MILLE) identifiers.push(freshPhone());
    if (randomInt(rng, 1000) < EMAIL_PER_MILLE) identifiers.push(toIdentifier('mailto', `${userId}@example.org`));
    users.push({
      userId,
      identifiers: identifiers.sort(compareCodePoints),
      label: rng(32).slice(),
      discoverable: randomInt(rng, 1000) >= HIDDEN_PER_MILLE,
    });
  }
  return users;
}
