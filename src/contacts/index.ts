/**
 * Contacts: normalization of phone numbers and e-mail addresses into the identifiers the
 * OPRF sees, and import of address books (vCard, CSV). Pure functions of strings: no I/O,
 * no timers, no Node-only APIs, so it runs unchanged in browsers and React Native.
 */
export { normalizePhone, MAX_RAW_PHONE_LENGTH, type PhoneResult, type CountryCode } from './phone.js';
export { repairLegacyMobile, phoneVariants } from './phone-variants.js';
export { normalizeEmail, MAX_EMAIL_OCTETS, MAX_LOCAL_PART_OCTETS, type EmailResult } from './email.js';
export type { NormalizeErrorCode, NormalizeFailure } from './result.js';
export {
  IdentifierKinds,
  toIdentifier,
  parseIdentifier,
  isIdentifier,
  identifierBytes,
  type IdentifierKind,
  type ParsedIdentifier,
} from './identifier.js';
export {
  uniqueIdentifiers,
  contactsByIdentifier,
  type AddressBook,
  type ContactEntry,
  type ContactIdentifier,
  type InvalidEntry,
} from './model.js';
export { DEFAULT_IMPORT_LIMITS, type ImportOptions } from './limits.js';
export { parseVcard } from './vcard.js';
export { parseContactsCsv, MAX_HEADER_SEARCH_ROWS } from './csv.js';
export { classifyColumn, type ColumnRole } from './csv-header.js';
export { parseAddressBook, sniffFormat, formatOfFileName, type AddressBookFormat, type AddressBookOptions } from './address-book.js';
export { toVcard, type VcardWriteOptions, type VcardVersion } from './vcard-write.js';
export { toContactsCsv, type CsvWriteOptions } from './csv-write.js';
export type { ContactDraft } from './draft.js';
