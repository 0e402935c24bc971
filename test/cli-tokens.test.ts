/**
 * Issue 9 §3: the server's `--tokens` file (a `# comment` line used to become the bearer
 * token `#`, and a token without an account was its own account name), and the client's
 * token source (a token in argv is visible in /proc).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveClientToken, TOKEN_ENV } from '../src/cli/token-source.js';
import { derivedAccount, MIN_TOKEN_LENGTH, parseTokensFile, readTokensFile } from '../src/cli/tokens-file.js';

const TOKEN_CHARS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/'];
const tokenArb = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: MIN_TOKEN_LENGTH, maxLength: 40 });
const accountArb = fc.string({ unit: fc.constantFrom(...'abcdefghij0123456789-_@.'), minLength: 1, maxLength: 12 });
const space = fc.constantFrom('', ' ', '\t', '  ', ' \t');
const eol = fc.constantFrom('', '\r');

type Line = { kind: 'token'; token: string; account?: string; text: string } | { kind: 'ignored'; text: string };

const ignoredLine: fc.Arbitrary<Line> = fc.oneof(
  fc.tuple(space, fc.string({ maxLength: 30 }).filter((s) => !s.includes('\n')), eol).map(([pre, body, end]) => ({ kind: 'ignored' as const, text: `${pre}#${body}${end}` })),
  fc.tuple(space, eol).map(([pre, end]) => ({ kind: 'ignored' as const, text: `${pre}${end}` })),
);
const tokenLine: fc.Arbitrary<Line> = fc
  .tuple(space, tokenArb, fc.option(fc.tuple(fc.constantFrom(' ', '\t', ' \t '), accountArb), { nil: undefined }), space, eol)
  .map(([pre, token, acct, post, end]) => ({ kind: 'token' as const, token, account: acct?.[1], text: `${pre}${token}${acct ? acct.join('') : ''}${post}${end}` }));

/** Files of comments, blank lines and valid lines, each token distinct. */
const fileArb = fc
  .array(fc.oneof(ignoredLine, tokenLine), { maxLength: 20 })
  .filter((lines) => {
    const tokens = lines.flatMap((l) => (l.kind === 'token' ? [l.token] : []));
    return new Set(tokens).size === tokens.length && lines.every((l) => l.kind !== 'token' || l.account !== l.token);
  });

describe('the --tokens file', () => {
  it('the generators reach comments, blank lines, lines with and without accounts', () => {
    const lines = fc.sample(fileArb, 100).flat();
    expect(lines.some((l) => l.kind === 'ignored' && l.text.trim().startsWith('#'))).toBe(true);
    expect(lines.some((l) => l.kind === 'ignored' && l.text.trim() === '')).toBe(true);
    expect(lines.some((l) => l.kind === 'token' && l.account === undefined)).toBe(true);
    expect(lines.some((l) => l.kind === 'token' && l.account !== undefined)).toBe(true);
  });

  it('loads exactly the token lines; comments and blank lines are ignored; an account is never the token', () => {
    fc.assert(
      fc.property(fileArb, (lines) => {
        const { accounts, accountCount } = parseTokensFile(lines.map((l) => l.text).join('\n'));
        const expected = lines.flatMap((l) => (l.kind === 'token' ? [[l.token, l.account ?? derivedAccount(l.token)] as const] : []));
        expect([...accounts.entries()]).toEqual(expected);
        expect(accountCount).toBe(new Set(expected.map(([, a]) => a)).size);
        for (const [token, account] of accounts) {
          expect(token.startsWith('#')).toBe(false);
          expect(account).not.toBe(token);
          expect(account.includes(token)).toBe(false);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('a malformed line refuses the file, naming its line number and never the secret on it', () => {
    const bad = fc.oneof(
      fc.tuple(tokenArb, accountArb, accountArb).map(([t, a, b]) => ({ secret: t, text: `${t} ${a} ${b}` })), // three fields
      fc.tuple(tokenArb, fc.constantFrom('"', '\u0007', 'é', ',')).map(([t, c]) => ({ secret: t, text: `${t}${c}` })), // bad character
      fc.tuple(tokenArb, fc.constantFrom('#acct', 'acc\u0001t')).map(([t, a]) => ({ secret: t, text: `${t} ${a}` })), // bad account
      fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: MIN_TOKEN_LENGTH - 1 }).map((t) => ({ secret: t, text: t })), // too short
    );
    fc.assert(
      fc.property(fileArb, bad, fc.nat(), (lines, { secret, text }, at) => {
        const texts = lines.map((l) => l.text);
        const index = at % (texts.length + 1);
        texts.splice(index, 0, text);
        let error: { code?: string; message?: string } | undefined;
        try {
          parseTokensFile(texts.join('\n'), 'tokens.txt');
        } catch (err) {
          error = err as typeof error;
        }
        expect(error?.code).toBe('tokens_file_invalid');
        expect(error?.message).toContain(`tokens.txt line ${index + 1}:`);
        if (secret.length >= 4) expect(error?.message?.includes(secret)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('tokens of 15 characters are refused, 16 accepted', () => {
    expect(() => parseTokensFile('a'.repeat(MIN_TOKEN_LENGTH - 1))).toThrow(expect.objectContaining({ code: 'tokens_file_invalid' }));
    expect(parseTokensFile('a'.repeat(MIN_TOKEN_LENGTH)).accounts.size).toBe(1);
  });

  it('the old bugs: "# comment" is no token, and a lone token is not its own account', () => {
    const { accounts } = parseTokensFile('# the tokens of our two apps\n\n0123456789abcdef0123 alice\nfedcba98765432100000\n');
    expect(accounts.has('#')).toBe(false);
    expect([...accounts.keys()]).toEqual(['0123456789abcdef0123', 'fedcba98765432100000']);
    expect(accounts.get('fedcba98765432100000')).toMatch(/^acct-[0-9a-f]{16}$/);
  });

  it('a duplicate token is refused', () => {
    expect(() => parseTokensFile('0123456789abcdef a\n0123456789abcdef b\n')).toThrow(/line 2: this token already appears/);
  });
});

describe('the client token source', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cpsi-token-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads --token-file, then CONTACT_PSI_TOKEN; --token still works with a warning', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'from-the-file-0123\n', { mode: 0o600 });
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    expect(resolveClientToken({ tokenFile: file }, { [TOKEN_ENV]: 'from-env-0123456789' }, warn)).toBe('from-the-file-0123');
    expect(warnings).toEqual([]);
    expect(resolveClientToken({}, { [TOKEN_ENV]: 'from-env-0123456789' }, warn)).toBe('from-env-0123456789');
    expect(resolveClientToken({}, {}, warn)).toBeUndefined();
    expect(resolveClientToken({ token: 'argv-token-0123456' }, {}, warn)).toBe('argv-token-0123456');
    expect(warnings).toEqual([expect.stringContaining('--token is visible')]);
    expect(() => resolveClientToken({ token: 'a', tokenFile: file }, {}, warn)).toThrow(expect.objectContaining({ code: 'invalid_option' }));
  });

  it('refuses a token file of several lines without quoting it, and warns when others can read it', () => {
    const file = join(dir, 'two-lines');
    writeFileSync(file, 'secret-one-0123456\nsecret-two-0123456\n', { mode: 0o600 });
    expect(() => resolveClientToken({ tokenFile: file }, {})).toThrow(expect.objectContaining({ code: 'invalid_token', message: expect.not.stringContaining('secret') }));
    const open = join(dir, 'open');
    writeFileSync(open, 'readable-token-0123\n');
    chmodSync(open, 0o644);
    const warnings: string[] = [];
    expect(resolveClientToken({ tokenFile: open }, {}, (m) => warnings.push(m))).toBe('readable-token-0123');
    expect(warnings).toEqual([expect.stringContaining('chmod 600')]);
  });

  it('the server reads a tokens file from disk and reports whether others can read it', () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, '# one app\n0123456789abcdef0123 app\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    expect(readTokensFile(file)).toMatchObject({ accountCount: 1, insecure: false });
    chmodSync(file, 0o640);
    expect(readTokensFile(file).insecure).toBe(true);
  });
});

describe('text from files reaches the terminal escaped', () => {
  it('a rejected directory row cannot carry terminal controls, line breaks or bidi overrides to stderr', async () => {
    const { rejectedRowLine } = await import('../src/cli/import-report.js');
    const { parseDirectoryFile } = await import('../src/directory/import-file.js');
    fc.assert(
      fc.property(fc.constantFrom('\u001b[2K\rimported 1000000 users', '\u009b31m', 'a\nb', '\u202eevil', '\u0000', '\u007f'), (hostile) => {
        const parsed = parseDirectoryFile(JSON.stringify([{ userId: `x${hostile}`, phones: [`+4179${hostile}`] }]), { format: 'json' });
        expect(parsed.errors).toHaveLength(1);
        const line = rejectedRowLine('dir.json', parsed.errors[0]);
        expect(line).toMatch(/^dir\.json: row 1 \(x/);
        expect(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/.test(line)).toBe(false);
      }),
    );
  });
});
