/**
 * Which `contact-psi sync` command lines the bin's entry (sync-entry.ts) may start
 * connecting for before commander is loaded (issue 13 §1, start-up), and the options it
 * needs for that: the server URL and the token's sources.
 *
 * Only a command line commander is certain to accept as this same sync, with every value
 * passing the same checkers main.ts gives commander (option-syntax.ts) and the region's
 * numbering plan checked as main.ts checks it before connecting: anything else (another
 * command, --help, --strict, an unknown or repeated option, a value that starts with '-',
 * a missing required option, a bad value) is left to commander alone, which reports it
 * exactly as before and never connects. A command line taken here is still parsed by
 * commander afterwards; it must find nothing wrong with it (test/cli-sync-entry.test.ts).
 */
import { hexKeyValue, regionInvalid, regionSyntaxValue, workersValue, wsUrlValue } from './option-syntax.js';
import type { TokenSourceOptions } from './token-source.js';

/**
 * The regions libphonenumber-js/max knows (its getCountries(), as of the version in
 * package-lock.json): what option-values.ts's regionValue accepts, without loading the
 * metadata before the first byte. test/cli-sync-entry.test.ts fails when they differ.
 */
export const PHONE_REGIONS: ReadonlySet<string> = new Set(
  (
    'AC AD AE AF AG AI AL AM AO AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI ' +
    'BJ BL BM BN BO BQ BR BS BT BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO ' +
    'CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM ' +
    'FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GT GU GW GY HK HN HR HT ' +
    'HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW ' +
    'KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN ' +
    'MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ ' +
    'OM PA PE PF PG PH PK PL PM PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD ' +
    'SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TA TC TD TG TH TJ TK ' +
    'TL TM TN TO TR TT TV TW TZ UA UG US UY UZ VA VC VE VG VI VN VU WF WS XK ' +
    'YE YT ZA ZM ZW'
  ).split(' '),
);

export interface EarlySyncPlan {
  readonly server: string;
  readonly tokenOptions: TokenSourceOptions;
}

/** The sync's options that take a value, with main.ts's checks (undefined: any value). */
const VALUE_OPTIONS: ReadonlyMap<string, ((value: string, name: string) => string) | undefined> = new Map([
  ['--server', (v: string, n: string) => wsUrlValue(v, n)],
  ['--contacts', undefined],
  ['--region', (v: string, n: string) => {
    const upper = regionSyntaxValue(v, n);
    if (!PHONE_REGIONS.has(upper)) throw regionInvalid(n, v);
    return upper;
  }],
  ['--cache', undefined],
  ['--token-file', undefined],
  ['--token', undefined],
  ['--pin', (v: string, n: string) => hexKeyValue(v, n, 32, "the directory's epoch public key")],
  ['--pin-identity', (v: string, n: string) => hexKeyValue(v, n, 32, "the directory's identity key")],
  ['--witness', (v: string, n: string) => wsUrlValue(v, n)],
  ['--workers', (v: string, n: string) => workersValue(v, n)],
]);
/** Flags the early path allows (--strict: nothing leaves before the book is checked). */
const FLAGS: ReadonlySet<string> = new Set(['--json', '--reset-cache']);
const REPEATABLE: ReadonlySet<string> = new Set(['--witness']);

/** `args`: process.argv after node and the script. Undefined: not for the early path (commander decides). */
export function earlySyncPlan(args: readonly string[]): EarlySyncPlan | undefined {
  if (args[0] !== 'sync') return undefined;
  const values = new Map<string, string>();
  const seen = new Set<string>();
  for (let i = 1; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (seen.has(name) && !REPEATABLE.has(name)) return undefined;
    seen.add(name);
    if (FLAGS.has(name)) {
      if (eq > 0) return undefined;
      continue;
    }
    if (!VALUE_OPTIONS.has(name)) return undefined;
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || value === '' || value.startsWith('-')) return undefined;
    try {
      VALUE_OPTIONS.get(name)?.(value, name);
    } catch {
      return undefined;
    }
    values.set(name, value);
  }
  const server = values.get('--server');
  if (server === undefined || !values.has('--contacts')) return undefined;
  return { server, tokenOptions: { token: values.get('--token'), tokenFile: values.get('--token-file') } };
}
