/**
 * Where a client command gets its bearer token. Command-line arguments are world-readable
 * (`/proc/<pid>/cmdline`, `ps`), so the token comes preferably from a file
 * (`--token-file`, first line) or the environment (`CONTACT_PSI_TOKEN`, readable only by
 * the same user); `--token` still works, with a warning. Errors never quote the token.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { ContactPsiError } from '../errors.js';

export const TOKEN_ENV = 'CONTACT_PSI_TOKEN';
/** A token file holds one line; anything larger is not one. */
export const MAX_TOKEN_FILE_BYTES = 4096;

export interface TokenSourceOptions {
  /** `--token`: visible to every user of the machine while the command runs. */
  readonly token?: string;
  /** `--token-file`: a file whose first line is the token. */
  readonly tokenFile?: string;
}

/** No whitespace or controls inside: it travels in an HTTP header. */
const PLAIN = /^[!-~]+$/;

/**
 * The token to send, or undefined for none. At most one of `--token` and `--token-file`;
 * the environment variable is used when neither is given. `warn` receives advice (a token
 * on the command line, a token file others can read).
 */
export function resolveClientToken(options: TokenSourceOptions, env: NodeJS.ProcessEnv = process.env, warn: (message: string) => void = () => {}): string | undefined {
  if (options.token !== undefined && options.tokenFile !== undefined) {
    throw new ContactPsiError('invalid_option', 'give either --token or --token-file, not both');
  }
  if (options.tokenFile !== undefined) return checked(readTokenFile(options.tokenFile, warn), `token file ${options.tokenFile}`);
  if (options.token !== undefined) {
    warn(`--token is visible to other users of this machine (ps, /proc); use --token-file or ${TOKEN_ENV}`);
    return checked(options.token, '--token');
  }
  const fromEnv = env[TOKEN_ENV];
  return fromEnv === undefined || fromEnv === '' ? undefined : checked(fromEnv.trim(), TOKEN_ENV);
}

function checked(token: string, source: string): string {
  if (!PLAIN.test(token)) throw new ContactPsiError('invalid_token', `${source}: the token must be printable ASCII without spaces`);
  return token;
}

function readTokenFile(path: string, warn: (message: string) => void): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new ContactPsiError('token_file_unreadable', `cannot open token file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  let text: string;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > MAX_TOKEN_FILE_BYTES) throw new ContactPsiError('invalid_token', `token file ${path} is not a file of at most ${MAX_TOKEN_FILE_BYTES} bytes`);
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) warn(`token file ${path} can be read by group or others (chmod 600)`);
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length !== 1) throw new ContactPsiError('invalid_token', `token file ${path} must hold exactly one non-empty line, it has ${lines.length}`);
  return lines[0];
}
