/**
 * The server's `--tokens` file: one accepted bearer token per line, `<token> [<account>]`.
 * Blank lines and lines starting with `#` are ignored (before, `# comment` became the
 * bearer token `#`). Every other line must be well formed, or the whole file is refused:
 * a server that silently skipped a bad line would lock out an account, or accept a token
 * the operator meant to comment out.
 *
 * Errors name the file and the line number, never the line itself: it holds a secret.
 * The account, which lands in the quota table and in logs, is never the token: without a
 * name one is derived, `acct-` + 16 hex digits of SHA-256 over a domain label and the token
 * (stable across restarts and reorderings of the file, so quotas survive both).
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { ContactPsiError } from '../errors.js';

/** Shorter bearer tokens are guessable; 16 characters of hex is 64 bits, base64 96. */
export const MIN_TOKEN_LENGTH = 16;
/** Longest token and account name read (an HTTP header has to carry the token). */
export const MAX_TOKEN_LENGTH = 512;
export const MAX_ACCOUNT_LENGTH = 128;
/** Largest tokens file read: about 100,000 lines. */
export const MAX_TOKENS_FILE_BYTES = 16 * 1024 * 1024;

/** RFC 6750 §2.1 b64token characters: what an `Authorization: Bearer` header carries unquoted. */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Printable ASCII without spaces; not starting with `#`, so it cannot be read as a comment. */
const ACCOUNT = /^[!-"$-~][!-~]*$/;
const ACCOUNT_LABEL = 'contact-psi-v1-account\0';

export interface TokensFile {
  /** Bearer token -> account. */
  readonly accounts: Map<string, string>;
  /** Distinct accounts (several tokens may share one). */
  readonly accountCount: number;
}

/** The account of a token listed without one: never the token itself. */
export function derivedAccount(token: string): string {
  return `acct-${createHash('sha256').update(ACCOUNT_LABEL).update(token).digest('hex').slice(0, 16)}`;
}

/** Parses the text of a tokens file; `source` names it in errors. Throws `tokens_file_invalid`. */
export function parseTokensFile(text: string, source = 'tokens file'): TokensFile {
  if (text.length > MAX_TOKENS_FILE_BYTES) throw new ContactPsiError('tokens_file_invalid', `${source} is larger than ${MAX_TOKENS_FILE_BYTES} bytes`);
  const accounts = new Map<string, string>();
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, i) => {
    const at = `${source} line ${i + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/[ \t]+/);
    if (fields.length > 2) throw invalid(`${at}: ${fields.length} fields; expected "<token> [<account>]"`);
    const [token, account] = fields;
    if (token.length > MAX_TOKEN_LENGTH || !TOKEN.test(token)) {
      throw invalid(`${at}: the token must be 1..${MAX_TOKEN_LENGTH} of A-Z a-z 0-9 - . _ ~ + / (then = padding)`);
    }
    if (token.length < MIN_TOKEN_LENGTH) throw invalid(`${at}: the token has ${token.length} characters, at least ${MIN_TOKEN_LENGTH} are needed`);
    if (account !== undefined && (account.length > MAX_ACCOUNT_LENGTH || !ACCOUNT.test(account))) {
      throw invalid(`${at}: the account must be 1..${MAX_ACCOUNT_LENGTH} printable ASCII characters, not starting with #`);
    }
    if (account === token) throw invalid(`${at}: the account name is the token itself; accounts appear in logs and the quota table`);
    if (accounts.has(token)) throw invalid(`${at}: this token already appears on an earlier line`);
    accounts.set(token, account ?? derivedAccount(token));
  });
  return { accounts, accountCount: new Set(accounts.values()).size };
}

/**
 * Reads and parses a tokens file. `insecure`: group or others may read it (the caller
 * warns: these are every client's secrets).
 */
export function readTokensFile(path: string): TokensFile & { readonly insecure: boolean } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new ContactPsiError('tokens_file_unreadable', `cannot open tokens file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw invalid(`tokens file ${path} is not a regular file`);
    if (stat.size > MAX_TOKENS_FILE_BYTES) throw invalid(`tokens file ${path} is larger than ${MAX_TOKENS_FILE_BYTES} bytes`);
    const parsed = parseTokensFile(readFileSync(fd, 'utf8'), `tokens file ${path}`);
    return { ...parsed, insecure: process.platform !== 'win32' && (stat.mode & 0o077) !== 0 };
  } finally {
    closeSync(fd);
  }
}

const invalid = (message: string) => new ContactPsiError('tokens_file_invalid', message);
