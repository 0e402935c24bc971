/**
 * The second peer: @cloudflare/voprf-ts (RFC 9497 in TypeScript), installed only in
 * bench/peers/voprf-ts/ (own package.json and lockfile, never a dependency of the project),
 * with its @noble/curves crypto provider, the one that has ristretto255-SHA512.
 * Loaded from its ESM build by path, so the project's own resolution never sees it.
 */
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { benchSource } from '../paths.js';

export const VOPRF_TS_INSTALL = 'npm --prefix bench/peers/voprf-ts install';

/** The part of voprf-ts's API the benchmark uses (its own types stay in its folder). */
export interface VoprfTsFinalizeData {
  readonly inputs: Uint8Array[];
}
export interface VoprfTsEvaluationRequest {
  readonly blinded: unknown[];
}
export interface VoprfTsEvaluation {
  readonly evaluated: unknown[];
  readonly proof?: unknown;
}
export interface VoprfTsClient {
  blind(inputs: Uint8Array[]): Promise<[VoprfTsFinalizeData, VoprfTsEvaluationRequest]>;
  finalize(finData: VoprfTsFinalizeData, evaluation: VoprfTsEvaluation): Promise<Uint8Array[]>;
}
export interface VoprfTsServer {
  blindEvaluate(req: VoprfTsEvaluationRequest): Promise<VoprfTsEvaluation>;
  evaluate(input: Uint8Array): Promise<Uint8Array>;
}
interface VoprfTsModule {
  Oprf: { Suite: Record<string, string>; Mode: Record<string, number> };
  VOPRFClient: new (suite: string, publicKey: Uint8Array, provider: unknown) => VoprfTsClient;
  VOPRFServer: new (suite: string, privateKey: Uint8Array, provider: unknown) => VoprfTsServer;
  generatePublicKey(suite: string, privateKey: Uint8Array, provider: unknown): Uint8Array;
}

export interface VoprfTsPeer {
  readonly version: string;
  readonly nobleVersion: string;
  readonly label: string;
  /** The suite actually used: ristretto255-SHA512 when the provider has it. */
  readonly suite: string;
  client(publicKey: Uint8Array): VoprfTsClient;
  server(privateKey: Uint8Array): VoprfTsServer;
  publicKey(privateKey: Uint8Array): Uint8Array;
}

let loaded: Promise<VoprfTsPeer | undefined> | undefined;

/** Loads the peer from bench/peers/voprf-ts/, or undefined (with a message) when it is not installed. */
export function loadVoprfTs(): Promise<VoprfTsPeer | undefined> {
  loaded ??= (async () => {
    const folder = join(benchSource, 'peers', 'voprf-ts');
    const require = createRequire(join(folder, 'package.json'));
    let cjsEntry: string;
    try {
      cjsEntry = require.resolve('@cloudflare/voprf-ts');
    } catch {
      console.warn(`@cloudflare/voprf-ts is not installed; peer skipped. To compare, run: ${VOPRF_TS_INSTALL}`);
      return undefined;
    }
    try {
      // .../voprf-ts/lib/cjs/src/index.js -> the package root, then its ESM build.
      const root = cjsEntry.slice(0, cjsEntry.lastIndexOf(`${sep}lib${sep}`));
      const version = String((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
      const mod = (await import(pathToFileURL(join(root, 'lib', 'esm', 'src', 'index.js')).href)) as VoprfTsModule;
      const { CryptoNoble } = (await import(pathToFileURL(join(root, 'lib', 'esm', 'src', 'cryptoNoble.js')).href)) as { CryptoNoble: unknown };
      let nobleVersion = 'unknown';
      try {
        const curves = createRequire(join(root, 'package.json')).resolve('@noble/curves/ed25519');
        nobleVersion = String((JSON.parse(readFileSync(join(dirname(curves), 'package.json'), 'utf8')) as { version: string }).version);
      } catch {
        // version unknown: the label says so.
      }
      const suite = mod.Oprf.Suite.RISTRETTO255_SHA512;
      if (suite === undefined) throw new Error('this voprf-ts has no ristretto255-SHA512 suite');
      return {
        version,
        nobleVersion,
        suite,
        label: `@cloudflare/voprf-ts ${version} (${suite}, @noble/curves ${nobleVersion} provider, pure JS)`,
        client: (publicKey) => new mod.VOPRFClient(suite, publicKey, CryptoNoble),
        server: (privateKey) => new mod.VOPRFServer(suite, privateKey, CryptoNoble),
        publicKey: (privateKey) => mod.generatePublicKey(suite, privateKey, CryptoNoble),
      };
    } catch (err) {
      console.warn(`@cloudflare/voprf-ts failed to load (${(err as Error).message}); peer skipped`);
      return undefined;
    }
  })();
  return loaded;
}
