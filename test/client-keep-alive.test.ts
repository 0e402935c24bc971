/**
 * The SDK's timers and process lifetime (issue 12 §4): by default a pending background sync
 * does not keep a Node process alive (unref'd timer); `keepAlive: true` makes it an ordinary
 * timer that does. Checked on the timer handles themselves (hasRef), without waiting.
 */
import { describe, expect, it } from 'vitest';
import { hostClock, systemClock } from '../src/client/clock.js';

type NodeTimer = { hasRef(): boolean };

describe('SDK clock keepAlive', () => {
  it('the default clock unrefs its timers; keepAlive: true keeps them ref\'d; clearTimeout cancels either', () => {
    let fired = 0;
    const cases: [ReturnType<typeof hostClock>, boolean][] = [
      [systemClock, false],
      [hostClock(), false],
      [hostClock({ keepAlive: false }), false],
      [hostClock({ keepAlive: true }), true],
    ];
    for (const [clock, refd] of cases) {
      const handle = clock.setTimeout(() => fired++, 3_600_000) as NodeTimer;
      expect(handle.hasRef()).toBe(refd);
      clock.clearTimeout(handle);
    }
    expect(fired).toBe(0);
  });
});
