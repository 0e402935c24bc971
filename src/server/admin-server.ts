/**
 * The operator's HTTP port (`serve --admin-port`): `/metrics` (Prometheus text format),
 * `/healthz` (the process answers) and `/readyz` (the snapshot is built and the discovery
 * port listens). It binds loopback by default: metrics tell load and sizes, which are the
 * operator's, not the public's. GET and HEAD only; anything else is 404 / 405.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerMetrics } from './server-metrics.js';

export const DEFAULT_ADMIN_HOST = '127.0.0.1';

export interface AdminServerOptions {
  port: number;
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
}

export interface AdminServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdminServer(metrics: ServerMetrics, isReady: () => boolean, options: AdminServerOptions): Promise<AdminServer> {
  const host = options.host ?? DEFAULT_ADMIN_HOST;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const text = (status: number, body: string) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : body);
    switch (path) {
      case '/healthz':
        return void text(200, 'ok\n');
      case '/readyz':
        return void (isReady() ? text(200, 'ready\n') : text(503, 'not ready\n'));
      case '/metrics':
        metrics.text().then(
          (body) => res.writeHead(200, { 'content-type': metrics.contentType }).end(req.method === 'HEAD' ? undefined : body),
          () => text(500, 'metrics failed\n'),
        );
        return;
      default:
        return void text(404, 'not found\n');
    }
  });
  // No keep-alive held open past close(): an idle scraper must not keep the process alive.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
