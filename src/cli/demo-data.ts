/**
 * The demo's address book: generated contacts, a share of which carry the numbers and
 * e-mail addresses of registered users written as people write them (national format with
 * trunk prefix, 00 prefix, spaces, mixed-case e-mail), so the demo exercises normalization.
 */
import { formatNationally, generateContacts, randomInt, toVcard, type GeneratedContact } from '../contacts/generate.js';
import type { Rng } from '../group/types.js';
import type { DirectoryUser } from '../directory/types.js';

export interface DemoBook {
  vcard: string;
  /** Identifiers of discoverable users placed in the book: what a sync must find. */
  expected: Set<string>;
  /** Identifiers of opted-out users placed in the book: what a sync must not find. */
  hidden: Set<string>;
}

export function demoAddressBook(users: readonly DirectoryUser[], count: number, rng: Rng, registeredShare = 0.25): DemoBook {
  const contacts: GeneratedContact[] = generateContacts(rng, count, { homeRegion: 'CH' });
  const expected = new Set<string>();
  const hidden = new Set<string>();
  const drafts = contacts.map((c) => ({ name: c.name, phones: [...c.phones], emails: [...c.emails] }));
  const chosen = Math.min(users.length, Math.round(count * registeredShare));
  for (let i = 0; i < chosen; i++) {
    const user = users[randomInt(rng, Math.min(users.length, 0x10000))]!;
    const draft = drafts[randomInt(rng, Math.min(drafts.length, 0x10000))]!;
    for (const id of user.identifiers) {
      if (id.startsWith('tel:')) {
        const variants = formatNationally(id.slice(4)).filter((v) => v.region === 'CH');
        const pick = variants.length > 0 ? variants[randomInt(rng, variants.length)]! : { text: id.slice(4) };
        draft.phones.push(pick.text);
      } else {
        const addr = id.slice('mailto:'.length);
        draft.emails.push(randomInt(rng, 2) === 0 ? addr.toUpperCase() : ` ${addr} `);
      }
      (user.discoverable ? expected : hidden).add(id);
    }
  }
  return { vcard: toVcard(drafts), expected, hidden };
}
