/**
 * Worker thread entry (compiled to dist/src/parallel/worker.js). Runs one task at a time
 * for the pool; every failure is caught and sent back as data, so a bad element rejects
 * one job and never takes the thread down. The backend comes in as workerData and is
 * loaded once, on the first task that needs it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BackendNames, type BackendName } from '../group/select.js';
import { runTask } from './ops.js';
import { resultTransferList, type Reply, type Request } from './wire.js';
import { serializeError } from './wire-error.js';

const port = parentPort;
if (port === null) throw new Error('src/parallel/worker.js must run in a worker thread');

const requested = (workerData as { backend?: unknown } | null)?.backend;
const backend: BackendName = BackendNames.includes(requested as BackendName) ? (requested as BackendName) : 'auto';

async function handle(request: Request): Promise<void> {
  let reply: Reply;
  let transfer: ArrayBuffer[] = [];
  try {
    const result = await runTask(request.task, backend);
    transfer = resultTransferList(result);
    reply = { id: request.id, ok: true, result };
  } catch (err) {
    reply = { id: request.id, ok: false, error: serializeError(err) };
  }
  port!.postMessage(reply, transfer);
}

port.on('message', (request: Request) => void handle(request));
