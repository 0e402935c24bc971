/**
 * The smallest discovery session: ask a directory (or a witness mirroring it) which
 * snapshot it serves, and stop. Clients compare the answer with what their own sync got,
 * so a directory that shows one client a different snapshot (a split view) is caught.
 */
import type { SuiteId } from '../../oprf/suite.js';
import { ProtocolError } from '../errors.js';
import { SessionCore } from '../session-core.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas, type DirInfo, type DiscoveryMessage } from './messages.js';

export type InfoState = 'idle' | 'awaiting_info' | 'done';

export class DiscoveryInfoSession extends SessionCore<InfoState, DiscoveryMessage, DirInfo> {
  protected readonly role = 'client';
  protected state: InfoState = 'idle';
  protected readonly transitions = {
    awaiting_info: {
      'dir.info': (m: DiscoveryMessage) => {
        this.state = 'done';
        this.emit({ type: 'result', result: m as DirInfo });
      },
    },
  };

  constructor(private readonly suite: SuiteId, idleTimeoutMs = 30_000) {
    super(DEFAULT_DISCOVERY_LIMITS.maxMessageBytes, discoverySchemas(DEFAULT_DISCOVERY_LIMITS), idleTimeoutMs);
  }

  isFinished(): boolean {
    return this.state === 'done';
  }

  start(now: number): void {
    if (this.state !== 'idle') throw new ProtocolError('unexpected_message', 'info session already started');
    this.touch(now);
    this.send({ t: 'dir.hello', suite: this.suite });
    this.state = 'awaiting_info';
  }
}
