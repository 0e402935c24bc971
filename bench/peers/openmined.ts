/**
 * The peer: @openmined/psi.js (ECDH-PSI on P-256, C++ compiled to WASM), installed only in
 * bench/peers/openmined/ and never a dependency of the project. Its npm package ships the
 * WASM build inline (psi_wasm_node.js), so it works without install scripts; the install
 * scripts of its dependencies (protoc-gen-js downloads a protoc binary) fail offline, hence
 * `--ignore-scripts`. Everything here measures it on exactly the sets our side gets.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchSource } from '../paths.js';
import { timeMs } from '../timing.js';

export const OPENMINED_INSTALL = 'npm --prefix bench/peers/openmined install --ignore-scripts';

interface ProtoMessage {
  serializeBinary(): Uint8Array;
}
interface ProtoClass<T> {
  deserializeBinary(bytes: Uint8Array): T;
}
interface PsiServer {
  createSetupMessage(fpr: number, numClientInputs: number, inputs: readonly string[], ds?: unknown): ProtoMessage;
  processRequest(request: ProtoMessage): ProtoMessage;
  delete(): void;
}
interface PsiClient {
  createRequest(inputs: readonly string[]): ProtoMessage;
  getIntersection(setup: ProtoMessage, response: ProtoMessage): number[];
  getIntersectionSize(setup: ProtoMessage, response: ProtoMessage): number;
  delete(): void;
}
export interface PsiLibrary {
  serverSetup: ProtoClass<ProtoMessage>;
  request: ProtoClass<ProtoMessage>;
  response: ProtoClass<ProtoMessage>;
  package: { version: string };
  dataStructure: { Raw: unknown; GCS: unknown; BloomFilter: unknown };
  server: { createWithNewKey(revealIntersection?: boolean): PsiServer };
  client: { createWithNewKey(revealIntersection?: boolean): PsiClient };
}

export interface OpenMinedPeer {
  readonly psi: PsiLibrary;
  readonly version: string;
  readonly label: string;
}

let loaded: Promise<OpenMinedPeer | undefined> | undefined;

/** Loads the peer from bench/peers/openmined/, or undefined (with a message) when it is not installed. */
export function loadOpenMined(): Promise<OpenMinedPeer | undefined> {
  loaded ??= (async () => {
    const require = createRequire(join(benchSource, 'peers', 'openmined', 'package.json'));
    let resolved: string;
    try {
      resolved = require.resolve('@openmined/psi.js');
    } catch {
      console.warn(`@openmined/psi.js is not installed; peer skipped. To compare, run: ${OPENMINED_INSTALL}`);
      return undefined;
    }
    try {
      const mod = (await import(pathToFileURL(resolved).href)) as { default?: unknown };
      const factory = (typeof mod.default === 'function' ? mod.default : (mod.default as { default?: unknown })?.default) as () => Promise<PsiLibrary>;
      const psi = await factory();
      const version = String(psi.package.version);
      return { psi, version, label: `@openmined/psi.js ${version} (P-256, WASM)` };
    } catch (err) {
      console.warn(`@openmined/psi.js failed to load (${(err as Error).message}); peer skipped`);
      return undefined;
    }
  })();
  return loaded;
}

export type OpenMinedStructure = 'Raw' | 'GCS' | 'BloomFilter';

export interface OpenMinedSessionFigures {
  /** CreateSetupMessage + serialize: the server's per-set work. */
  setupMs: number;
  /** The same, CPU of the process (the peer runs on this one thread). */
  setupCpuMs: number;
  /** CreateRequest + serialize. */
  requestMs: number;
  /** deserialize + ProcessRequest + serialize. */
  processMs: number;
  /** deserialize setup and response + GetIntersection. */
  intersectMs: number;
  bytesUp: number;
  bytesDown: number;
  matches: number;
}

/** One whole session on the given sets, each phase timed, the messages serialized as on a wire. */
export function openMinedSession(peer: OpenMinedPeer, server: readonly string[], client: readonly string[], fpr: number, structure: OpenMinedStructure): OpenMinedSessionFigures {
  const { psi } = peer;
  const s = psi.server.createWithNewKey(true);
  const c = psi.client.createWithNewKey(true);
  try {
    const cpu = process.cpuUsage();
    const setup = timeMs(() => s.createSetupMessage(fpr, client.length, server, psi.dataStructure[structure]).serializeBinary());
    const setupCpu = process.cpuUsage(cpu);
    const request = timeMs(() => c.createRequest(client).serializeBinary());
    const response = timeMs(() => s.processRequest(psi.request.deserializeBinary(request.value)).serializeBinary());
    const intersect = timeMs(() => c.getIntersection(psi.serverSetup.deserializeBinary(setup.value), psi.response.deserializeBinary(response.value)));
    return {
      setupMs: setup.ms,
      setupCpuMs: (setupCpu.user + setupCpu.system) / 1000,
      requestMs: request.ms,
      processMs: response.ms,
      intersectMs: intersect.ms,
      bytesUp: request.value.length,
      bytesDown: setup.value.length + response.value.length,
      matches: intersect.value.length,
    };
  } finally {
    s.delete();
    c.delete();
  }
}
