/**
 * Session PSI messages (spec/protocol.md §Messages). Each is a msgpack map with the
 * protocol version `v`, the type `t` and the fields below. A batch of group elements is
 * one packed byte string (n x element size), never an array.
 */
import { SuiteIds, type SuiteId } from '../oprf/suite.js';
import type { EncodingKind } from '../setenc/types.js';
import type { SessionLimits } from './limits.js';
import type { MessageSchema } from './schema.js';

export const PROTOCOL_VERSION = 1;

export const PsiModes = ['intersection', 'cardinality'] as const;
export type PsiMode = (typeof PsiModes)[number];
export const EncodingKinds = ['raw', 'gcs', 'bloom', 'fuse'] as const satisfies readonly EncodingKind[];

export interface HelloMessage {
  t: 'psi.hello';
  suite: SuiteId;
  mode: PsiMode;
  verifiable: boolean;
  encoding: EncodingKind;
  /** Target probability that the whole query has any false positive. */
  fpr: number;
  /** Number of items the client will send (after padding). */
  total: number;
  /** Largest chunk the client will send. */
  chunk: number;
}

export interface SetupMessage {
  t: 'psi.setup';
  /** Serialized set encoding of the server's tags under this session's key. */
  encoding: Uint8Array;
  serverCount: number;
  /** Present in verifiable mode: the key the DLEQ proofs are made against. */
  publicKey?: Uint8Array;
}

export interface QueryMessage {
  t: 'psi.query';
  seq: number;
  blinded: Uint8Array;
}

export interface EvaluationMessage {
  t: 'psi.evaluation';
  seq: number;
  evaluated: Uint8Array;
  proof?: Uint8Array;
}

export interface ErrorMessage {
  t: 'error';
  code: string;
  message: string;
}

export type PsiMessage = HelloMessage | SetupMessage | QueryMessage | EvaluationMessage | ErrorMessage;
export type PsiMessageType = PsiMessage['t'];

/** Largest element encoding of any suite (P-256 compressed), for length bounds. */
const MAX_ELEMENT = 33;
const MAX_SCALAR = 32;

export function psiSchemas(limits: SessionLimits): Record<PsiMessageType, MessageSchema> {
  const maxBatchBytes = limits.maxChunkItems * MAX_ELEMENT;
  return {
    'psi.hello': {
      suite: { kind: 'str', maxLength: 32, values: SuiteIds },
      mode: { kind: 'str', maxLength: 16, values: PsiModes },
      verifiable: { kind: 'bool' },
      encoding: { kind: 'str', maxLength: 8, values: EncodingKinds },
      fpr: { kind: 'float', min: limits.minFalsePositiveRate, max: limits.maxFalsePositiveRate },
      total: { kind: 'uint', max: limits.maxClientItems },
      chunk: { kind: 'uint', min: 1, max: limits.maxChunkItems },
    },
    'psi.setup': {
      encoding: { kind: 'bin', maxLength: limits.maxEncodingBytes },
      serverCount: { kind: 'uint', max: limits.maxServerItems },
      publicKey: { kind: 'bin', maxLength: MAX_ELEMENT, optional: true },
    },
    'psi.query': {
      seq: { kind: 'uint', max: limits.maxClientItems },
      blinded: { kind: 'bin', maxLength: maxBatchBytes },
    },
    'psi.evaluation': {
      seq: { kind: 'uint', max: limits.maxClientItems },
      evaluated: { kind: 'bin', maxLength: maxBatchBytes },
      proof: { kind: 'bin', maxLength: 2 * MAX_SCALAR, optional: true },
    },
    error: {
      code: { kind: 'str', maxLength: 64 },
      message: { kind: 'str', maxLength: 1024 },
      retryAfterMs: { kind: 'uint', max: 366 * 24 * 3600 * 1000, optional: true },
    },
  };
}
