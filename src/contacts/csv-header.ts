/**
 * Recognizes the columns of a contacts CSV by their header, case- and accent-insensitively:
 * Google Contacts ("Phone 1 - Value", "E-mail 1 - Value"), Outlook ("Mobile Phone",
 * "E-mail 2 Address"), and plain hand-made headers ("Name", "Tel", "Email").
 */

export type ColumnRole = 'name' | 'first' | 'middle' | 'last' | 'org' | 'tel' | 'mailto';

// Matched against the whole header with blanks and punctuation removed.
const NAME_HEADERS: Record<Exclude<ColumnRole, 'tel' | 'mailto'>, readonly string[]> = {
  name: ['name', 'fullname', 'displayname', 'contactname', 'formattedname', 'fn', 'nom', 'nombre'],
  first: ['firstname', 'givenname', 'first', 'given', 'forename', 'vorname', 'prenom'],
  middle: ['middlename', 'additionalname', 'middle'],
  last: ['lastname', 'familyname', 'surname', 'last', 'family', 'nachname', 'nomdefamille'],
  org: ['company', 'companyname', 'organization', 'organisation', 'organizationname', 'organisationname', 'organization1name', 'org'],
};

// Matched against the words of the header, so "Phonetic Name" is not a phone column.
const PHONE_WORDS = new Set([
  'phone', 'phones', 'phonenumber', 'telephone', 'telephonenumber', 'tel', 'mobile', 'mobilephone',
  'mobilenumber', 'cell', 'cellphone', 'cellular', 'telefon', 'telefono', 'handy', 'mobil', 'natel',
  'portable', 'msisdn',
]);
const EMAIL_WORDS = new Set(['email', 'emails', 'emailaddress', 'mail', 'mailaddress', 'emailadresse', 'courriel']);
// "Phone 1 - Type", "E-mail Display Name": columns about a value, not values.
const META_WORDS = new Set(['type', 'label', 'kind', 'display', 'name', 'country', 'verified', 'ext', 'extension']);

export function classifyColumn(header: string): ColumnRole | undefined {
  const folded = header
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/(^|[^\p{L}\p{N}])e[\s_-]?mail/gu, '$1email');
  const words = folded.split(/[^\p{L}\p{N}]+/u).filter((w) => w !== '');
  const compact = words.join('');
  if (compact === '') return undefined;
  for (const [role, names] of Object.entries(NAME_HEADERS)) {
    if (names.includes(compact)) return role as ColumnRole;
  }
  if (words.some((w) => META_WORDS.has(w))) return undefined;
  if (words.some((w) => PHONE_WORDS.has(w))) return 'tel';
  if (words.some((w) => EMAIL_WORDS.has(w))) return 'mailto';
  return undefined;
}

/** The roles of a header row, or undefined when it has no phone or e-mail column. */
export function classifyHeader(fields: readonly string[]): (ColumnRole | undefined)[] | undefined {
  const roles = fields.map(classifyColumn);
  return roles.some((r) => r === 'tel' || r === 'mailto') ? roles : undefined;
}
