/**
 * Settings of `contact-psi serve` from four places, in this order of precedence
 * (spec/operations.md "Settings"):
 *
 *   1. a flag on the command line          --admin-port 9464
 *   2. an environment variable             CONTACT_PSI_ADMIN_PORT=9464
 *   3. the config file (--config f.json)   { "adminPort": 9464 }
 *   4. the built-in default
 *
 * The config file is a JSON object whose keys are the flags' names in camelCase; an unknown
 * key, a nested value or a file over 1 MiB is refused (`config_invalid`) rather than ignored,
 * so a typo does not silently leave a limit at its default. Paths in it are relative to the
 * working directory, as on the command line. The environment variable of a setting is
 * CONTACT_PSI_ and its flag in upper snake case (--kek-file: CONTACT_PSI_KEK_FILE); the
 * config file's own is CONTACT_PSI_CONFIG.
 */
import { readFileSync, statSync } from 'node:fs';
import { ContactPsiError } from '../errors.js';

export type SettingSource = 'flag' | 'env' | 'file' | 'default';

/** Largest config file read. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** `serve`'s settings and their defaults (undefined: none; the flag's own help says what that means). */
export const SERVE_SETTINGS = {
  db: undefined,
  kekFile: undefined,
  node: undefined,
  port: '7878',
  host: '127.0.0.1',
  tokens: undefined,
  rotateHours: '0',
  graceHours: '24',
  quota: '50000',
  fillRange: '4096',
  refreshSeconds: '60',
  adminPort: undefined,
  adminHost: '127.0.0.1',
  logLevel: 'info',
  partialLabels: 'off',
} as const satisfies Record<string, string | undefined>;

export type ServeSettingKey = keyof typeof SERVE_SETTINGS;

/** CONTACT_PSI_ + the key in upper snake case: adminPort -> CONTACT_PSI_ADMIN_PORT. */
export const envNameOf = (key: string): string => `CONTACT_PSI_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

export const CONFIG_ENV = 'CONTACT_PSI_CONFIG';

const invalid = (message: string) => new ContactPsiError('config_invalid', message);

/** Reads a config file: a JSON object of known keys whose values are strings, numbers or booleans. */
export function readConfigFile(path: string, keys: readonly string[]): Record<string, string> {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_CONFIG_FILE_BYTES) throw invalid(`config file ${path} is larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ContactPsiError) throw err;
    throw new ContactPsiError('config_unreadable', `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalid(`config file ${path} is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid(`config file ${path} must hold a JSON object`);
  const known = new Set(keys);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.has(key)) throw invalid(`config file ${path}: unknown setting "${key}" (known: ${keys.join(', ')})`);
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
    else if (value !== null) throw invalid(`config file ${path}: "${key}" must be a string or a number`);
  }
  return out;
}

export interface ResolvedSettings<K extends string> {
  values: Partial<Record<K, string>>;
  /** Where each value came from (absent: no value anywhere). */
  sources: Partial<Record<K, SettingSource>>;
}

/**
 * Merges the four places. `flags` holds only what was given on the command line (not
 * commander's defaults); `configPath` is the --config flag, else CONTACT_PSI_CONFIG.
 */
export function resolveSettings<K extends string>(
  defaults: Readonly<Record<K, string | undefined>>,
  flags: Partial<Record<K, string>>,
  env: NodeJS.ProcessEnv,
  configPath: string | undefined,
): ResolvedSettings<K> {
  const keys = Object.keys(defaults) as K[];
  const path = configPath ?? env[CONFIG_ENV];
  const file = path ? readConfigFile(path, keys) : {};
  const values: Partial<Record<K, string>> = {};
  const sources: Partial<Record<K, SettingSource>> = {};
  for (const key of keys) {
    const fromEnv = env[envNameOf(key)];
    const [value, source]: [string | undefined, SettingSource] =
      flags[key] !== undefined
        ? [flags[key], 'flag']
        : fromEnv !== undefined && fromEnv !== ''
          ? [fromEnv, 'env']
          : (file as Record<string, string>)[key] !== undefined
            ? [(file as Record<string, string>)[key], 'file']
            : [defaults[key], 'default'];
    if (value !== undefined) {
      values[key] = value;
      sources[key] = source;
    }
  }
  return { values, sources };
}

/**
 * `serve`'s options after precedence: commander gives every option with a default a value,
 * so only those whose source is the command line count as flags.
 */
export function serveSettingsOf(
  options: Partial<Record<ServeSettingKey | 'config', string>>,
  command: { getOptionValueSource(key: string): string | undefined } | undefined,
  env: NodeJS.ProcessEnv,
): Partial<Record<ServeSettingKey, string>> {
  const flags: Partial<Record<ServeSettingKey, string>> = {};
  for (const key of Object.keys(SERVE_SETTINGS) as ServeSettingKey[]) {
    const value = options[key];
    // Without a command (a program calling serve() directly) every given option is a flag.
    if (value !== undefined && (command === undefined || command.getOptionValueSource(key) === 'cli')) flags[key] = value;
  }
  return resolveSettings(SERVE_SETTINGS, flags, env, options.config).values;
}
