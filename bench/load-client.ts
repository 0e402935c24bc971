/**
 * A load-generating discovery client: it sends elements blinded once in advance and does
 * not verify or finalize what comes back, so one client process can keep a server busy
 * and the server's evaluation is what the throughput figures measure. It speaks the real
 * protocol (dir.hello, dir.evaluate chunks, an empty dir.labels.get) over the real transport.
 */
import { LABEL_FORMAT } from '../src/protocol/discovery/labels.js';
import { ProtocolError } from '../src/protocol/errors.js';
import {
  DEFAULT_DISCOVERY_LIMITS,
  discoverySchemas,
  type DirEvaluated,
  type DirInfo,
  type DiscoveryMessage,
} from '../src/protocol/discovery/messages.js';
import { SessionCore } from '../src/protocol/session-core.js';
import type { SuiteId } from '../src/oprf/index.js';

type LoadState = 'idle' | 'awaiting_info' | 'awaiting_evaluations' | 'awaiting_labels' | 'done';

export interface LoadResult {
  evaluated: number;
}

export class LoadSession extends SessionCore<LoadState, DiscoveryMessage, LoadResult> {
  protected readonly role = 'client';
  protected state: LoadState = 'idle';
  protected readonly transitions = {
    awaiting_info: { 'dir.info': (m: DiscoveryMessage) => this.onInfo(m as DirInfo) },
    awaiting_evaluations: { 'dir.evaluated': (m: DiscoveryMessage) => this.onEvaluated(m as DirEvaluated) },
    awaiting_labels: { 'dir.labels': () => this.onLabels() },
  };
  private epoch = 0;
  private expected = 0;
  private received = 0;

  /** `blinded`: packed valid elements (32 bytes each), sent as they are. */
  constructor(
    private readonly suite: SuiteId,
    private readonly blinded: Uint8Array,
  ) {
    super(DEFAULT_DISCOVERY_LIMITS.maxMessageBytes, discoverySchemas(DEFAULT_DISCOVERY_LIMITS), 120_000);
  }

  isFinished(): boolean {
    return this.state === 'done';
  }

  start(now: number): void {
    this.touch(now);
    this.send({ t: 'dir.hello', suite: this.suite });
    this.state = 'awaiting_info';
  }

  private onInfo(info: DirInfo): void {
    this.epoch = info.epoch;
    const chunkBytes = info.chunk * 32;
    let seq = 0;
    for (let off = 0; off < this.blinded.length; off += chunkBytes) {
      this.send({ t: 'dir.evaluate', epoch: info.epoch, seq: seq++, blinded: this.blinded.subarray(off, off + chunkBytes) });
    }
    this.expected = seq;
    this.state = 'awaiting_evaluations';
  }

  private onEvaluated(msg: DirEvaluated): void {
    if (msg.seq !== this.received) throw new ProtocolError('unexpected_message', `expected evaluation ${this.received}`);
    this.received++;
    if (this.received === this.expected) {
      this.send({ t: 'dir.labels.get', epoch: this.epoch, keys: new Uint8Array(0), format: LABEL_FORMAT });
      this.state = 'awaiting_labels';
    }
  }

  private onLabels(): void {
    this.state = 'done';
    this.emit({ type: 'result', result: { evaluated: this.blinded.length / 32 } });
  }
}
