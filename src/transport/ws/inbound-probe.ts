/**
 * How many bytes of not-yet-complete messages ws holds for one connection. ws 8 keeps the
 * unparsed bytes of the current frame in its Receiver (`_bufferedBytes`), the payloads of
 * earlier fragments of the current message (`_totalPayloadLength`, which already counts the
 * current frame's declared length once its header is parsed) and chunks not yet handed to
 * the parser (the Receiver is a Writable: `writableLength`). These are ws internals, pinned
 * by the test of the inbound budget (test/transport-budgets.test.ts); if they change shape,
 * the probe falls back to counting socket bytes since the last complete message.
 */
import type { WebSocket } from 'ws';

interface ReceiverInternals {
  _bufferedBytes?: unknown;
  _totalPayloadLength?: unknown;
  _payloadLength?: unknown;
  _opcode?: unknown;
  _state?: unknown;
  writableLength?: unknown;
}

// ws/lib/receiver.js states after a data frame's length is known and before its payload is complete.
const GET_MASK = 3;
const GET_DATA = 4;

export function receiverOf(ws: WebSocket): ReceiverInternals | undefined {
  const r = (ws as unknown as { _receiver?: ReceiverInternals })._receiver;
  return r && typeof r._bufferedBytes === 'number' && typeof r._totalPayloadLength === 'number' ? r : undefined;
}

/** Bytes ws holds of partial messages, or undefined if its internals are not the expected ones. */
export function partialInboundBytes(r: ReceiverInternals): number {
  const buffered = r._bufferedBytes as number;
  let fragments = r._totalPayloadLength as number;
  const state = r._state as number;
  if ((state === GET_MASK || state === GET_DATA) && (r._opcode as number) < 0x08) fragments -= (r._payloadLength as number) ?? 0;
  const queued = typeof r.writableLength === 'number' ? r.writableLength : 0;
  return Math.max(0, buffered) + Math.max(0, fragments) + queued;
}
