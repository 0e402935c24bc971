/**
 * The largest message a server can legitimately receive, computed from the message schemas
 * and their limits, so that `maxPayloadBytes` (checked by ws as soon as a frame header gives
 * the length, before the payload is buffered) is sized to the protocol instead of a round
 * guess: a peer cannot make the server buffer more than this for one message (issue 9 §2).
 *
 * Bounds are for msgpack (spec/protocol.md): every field is charged its key, its largest
 * value and the largest header for it (5 bytes for str32/bin32/array32, 9 for a 64-bit
 * number), strings at 4 bytes per character (UTF-8 worst case).
 */
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas, type DiscoveryLimits } from '../../protocol/discovery/messages.js';
import { DEFAULT_LIMITS, type SessionLimits } from '../../protocol/limits.js';
import { psiSchemas } from '../../protocol/messages.js';
import type { FieldSpec, MessageSchema } from '../../protocol/schema.js';

/** What a server receives from clients (the other types only travel server -> client). */
export const SERVER_INBOUND_PSI = ['psi.hello', 'psi.query', 'error'] as const;
export const SERVER_INBOUND_DISCOVERY = [
  'dir.hello',
  'dir.quota',
  'dir.delta.get',
  'dir.snapshot.get',
  'dir.evaluate',
  'dir.labels.get',
  'dir.log.get',
  'dir.announcement.get',
  'error',
] as const;

const HEADER = 5;
const NUMBER = 9;
/** The envelope every message has: a map32 header, `v` (a number) and `t` (a type name of at most 32 characters). */
const ENVELOPE = HEADER + (HEADER + 1 + NUMBER) + (HEADER + 1 + HEADER + 4 * 32);

function fieldBound(spec: FieldSpec): number {
  switch (spec.kind) {
    case 'uint':
    case 'float':
      return NUMBER;
    case 'bool':
      return 1;
    case 'str':
      return HEADER + 4 * spec.maxLength;
    case 'bin':
      return HEADER + spec.maxLength;
    case 'binList':
      return HEADER + spec.maxItems * (HEADER + spec.maxItemLength);
  }
}

/** Upper bound of the encoded size of one message of this schema. */
export function messageBound(schema: MessageSchema): number {
  let n = ENVELOPE;
  for (const [key, spec] of Object.entries(schema)) n += HEADER + 4 * key.length + fieldBound(spec);
  return n;
}

export interface InboundBound {
  bytes: number;
  /** The message type that needs the most. */
  type: string;
}

/** The largest message a session-PSI or discovery server accepts from a client, under these limits. */
export function largestServerInbound(psi: SessionLimits = DEFAULT_LIMITS, discovery: DiscoveryLimits = DEFAULT_DISCOVERY_LIMITS): InboundBound {
  const candidates: [string, MessageSchema][] = [
    ...SERVER_INBOUND_PSI.map((t) => [t, psiSchemas(psi)[t]] as [string, MessageSchema]),
    ...SERVER_INBOUND_DISCOVERY.map((t) => [t, discoverySchemas(discovery)[t]] as [string, MessageSchema]),
  ];
  let best: InboundBound = { bytes: 0, type: '' };
  for (const [type, schema] of candidates) {
    const bytes = messageBound(schema);
    if (bytes > best.bytes) best = { bytes, type };
  }
  return best;
}

const MiB = 1024 * 1024;

/**
 * The default server `maxPayloadBytes`: the largest legitimate inbound message under the
 * default limits (dir.quota with maxChargedSet 1,000,000 x 8-byte hashes: 8,000,243 bytes,
 * 7.63 MiB), rounded up to a whole MiB plus one MiB of headroom = 9 MiB.
 */
export const defaultServerMaxPayloadBytes = (): number => (Math.ceil(largestServerInbound().bytes / MiB) + 1) * MiB;
