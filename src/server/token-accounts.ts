/**
 * Bearer token -> account for serveDirectory: a Map, a function, or a tokens file that
 * `reload()` re-reads (SIGHUP of `contact-psi serve`). A reload swaps the whole table at
 * once; a file that fails to parse leaves the table as it was (a typo must not lock
 * every client out).
 */
import { readTokensFile } from '../cli/tokens-file.js';

/** Where the accounts come from: token -> account. An unknown token is `undefined` (HTTP 401). */
export type AccountSource = ReadonlyMap<string, string> | ((token: string) => string | undefined);

export class TokenAccounts {
  #lookup: (token: string) => string | undefined;
  #counts: { tokens: number; accounts: number };
  /** Group or others can read the tokens file (the CLI warns: it holds every client's secret). */
  insecure = false;

  private constructor(
    source: AccountSource,
    private readonly file: string | undefined,
  ) {
    this.#lookup = lookupOf(source);
    this.#counts = countsOf(source);
  }

  static of(source: AccountSource): TokenAccounts {
    return new TokenAccounts(source, undefined);
  }

  /** Reads the file now (throws `tokens_file_unreadable` / `tokens_file_invalid`). */
  static fromFile(path: string): TokenAccounts {
    const accounts = new TokenAccounts(new Map(), path);
    accounts.reload();
    return accounts;
  }

  lookup(token: string): string | undefined {
    return this.#lookup(token);
  }

  /** Tokens and distinct accounts held (-1 for a function source). */
  get counts(): { tokens: number; accounts: number } {
    return this.#counts;
  }

  /** Re-reads the tokens file; on failure throws and keeps the previous table. */
  reload(): { tokens: number; accounts: number } {
    if (this.file === undefined) return this.#counts;
    const file = readTokensFile(this.file);
    this.#lookup = lookupOf(file.accounts);
    this.#counts = { tokens: file.accounts.size, accounts: file.accountCount };
    this.insecure = file.insecure;
    return this.#counts;
  }
}

function lookupOf(source: AccountSource): (token: string) => string | undefined {
  if (typeof source === 'function') return source;
  return (token) => source.get(token);
}

function countsOf(source: AccountSource): { tokens: number; accounts: number } {
  if (typeof source === 'function') return { tokens: -1, accounts: -1 };
  return { tokens: source.size, accounts: new Set(source.values()).size };
}
