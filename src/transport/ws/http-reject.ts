/**
 * Refuse an upgrade with a plain HTTP response, before any WebSocket exists, and drop the
 * socket. The body is the status text only: nothing about why authentication failed.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export function rejectUpgrade(socket: Duplex, status: number, extraHeaders: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const text = STATUS_CODES[status] ?? 'Error';
  const headers = {
    Connection: 'close',
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    ...extraHeaders,
  };
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${text}\r\n${head}\r\n${text}`);
  // end() flushes the response; destroy once it is written so a peer cannot hold us open.
  socket.once('finish', () => socket.destroy());
}
