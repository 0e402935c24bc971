/** What the writers take: an entry as a person would type it, before normalization. */
export interface ContactDraft {
  readonly name: string;
  /** Phone numbers in any format normalizePhone accepts. */
  readonly phones?: readonly string[];
  readonly emails?: readonly string[];
}
