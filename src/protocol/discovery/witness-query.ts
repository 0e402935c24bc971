/**
 * The witness query (spec/verifiability.md §4, spec/discovery.md §2): a short session that
 * asks a directory node, a mirror or any other witness of the directory's log for its newest
 * signed announcement and its entry for the (epoch, version) the client was served:
 *
 *   idle --start()/send dir.hello--> awaiting_info
 *   awaiting_info --dir.info/send dir.announcement.get--> awaiting_announcement
 *   awaiting_announcement --dir.announcement/emit result--> done
 *
 * The answer is compared by witness.ts (compareWithWitnesses); this session only fetches it.
 * Nothing here is evaluated or charged: the witness learns which (epoch, version) the
 * client holds, which every client of that version shares.
 */
import type { SuiteId } from '../../oprf/suite.js';
import { ProtocolError } from '../errors.js';
import { SessionCore } from '../session-core.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas, type DirAnnouncement, type DirInfo, type DiscoveryMessage } from './messages.js';

export type WitnessQueryState = 'idle' | 'awaiting_info' | 'awaiting_announcement' | 'done';

export interface WitnessQueryResult {
  /** What the witness serves itself (informative; the signed envelopes are what counts). */
  readonly info: DirInfo;
  /** Signed announcement envelopes: its newest, and its entry for the asked (epoch, version) if any. */
  readonly announcements: readonly Uint8Array[];
}

export class WitnessQuerySession extends SessionCore<WitnessQueryState, DiscoveryMessage, WitnessQueryResult> {
  protected readonly role = 'client';
  protected state: WitnessQueryState = 'idle';
  protected readonly transitions = {
    awaiting_info: {
      'dir.info': (m: DiscoveryMessage) => {
        this.info = m as DirInfo;
        this.send({ t: 'dir.announcement.get', epoch: this.epoch, version: this.version });
        this.state = 'awaiting_announcement';
      },
    },
    awaiting_announcement: {
      'dir.announcement': (m: DiscoveryMessage) => {
        this.state = 'done';
        this.emit({ type: 'result', result: { info: this.info!, announcements: (m as DirAnnouncement).announcements } });
      },
    },
  };

  private info: DirInfo | undefined;

  constructor(
    private readonly suite: SuiteId,
    private readonly epoch: number,
    private readonly version: number,
    idleTimeoutMs = 30_000,
  ) {
    super(DEFAULT_DISCOVERY_LIMITS.maxMessageBytes, discoverySchemas(DEFAULT_DISCOVERY_LIMITS), idleTimeoutMs);
  }

  isFinished(): boolean {
    return this.state === 'done';
  }

  start(now: number): void {
    if (this.state !== 'idle') throw new ProtocolError('unexpected_message', 'witness query already started');
    this.touch(now);
    this.send({ t: 'dir.hello', suite: this.suite });
    this.state = 'awaiting_info';
  }
}
