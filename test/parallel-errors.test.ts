/**
 * Failures in the pool: a bad element rejects its job with the group's own code and the
 * batch index, and the pool keeps working; empty batches; bad keys and inputs; a worker
 * that dies is replaced; close() is idempotent; a missing compiled worker is reported.
 * The workers are dist/src/parallel/worker.js (rebuilt when stale by vitest's globalSetup).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContactPsiError, GroupError, OprfError } from '../src/errors.js';
import { loadGroup, type BackendName } from '../src/group/select.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { WorkerPool } from '../src/parallel/pool.js';
import { resolveWorkerUrl } from '../src/parallel/worker-url.js';
import { seededRng } from './helpers/rng.js';
import { assertDistFresh, WORKER } from './helpers/worker-build.js';


// vitest's globalSetup rebuilt dist/ if its sources changed (test/helpers/worker-build.ts).
beforeAll(assertDistFresh);

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const items = (n: number, tag = 'x'): Uint8Array[] => Array.from({ length: n }, (_, i) => utf8(`${tag}${i}`));

/** The error's class and code, or 'ok'. */
async function outcome(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (err) {
    return err instanceof ContactPsiError ? `${err.name}:${err.code}` : `${(err as Error).name}`;
  }
}

describe.each<BackendName>(['noble', 'sodium'])('ristretto255 on %s', (backend) => {
  let pool: WorkerPool;
  let suite: OprfSuite;
  let voprf: OprfSuite;
  beforeAll(async () => {
    pool = new WorkerPool({ size: 2, backend, inlineThreshold: 4, maxSliceSize: 8 });
    const group = await loadGroup('ristretto255', backend);
    suite = createSuite('ristretto255-SHA512', Modes.OPRF, group);
    voprf = createSuite('ristretto255-SHA512', Modes.VOPRF, group);
  });
  afterAll(() => pool.close());

  it('an invalid element rejects the job with the group code and its batch index; the pool keeps working', async () => {
    const bad = fc.oneof(
      fc.constant({ bytes: new Uint8Array(32), code: 'identity_element' }),
      fc.constant({ bytes: new Uint8Array(32).fill(0xff), code: 'bad_element' }), // not canonical (>= p)
      fc.constant({ bytes: Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0)), code: 'bad_element' }), // odd: negative
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 4, max: 30 }), fc.nat(), bad, fc.integer({ min: 0, max: 1000 }), async (n, at, { bytes, code }, seed) => {
        const index = at % n;
        const { secretKey } = suite.generateKeyPair(seededRng(seed));
        const packed = suite.blind(items(n), seededRng(seed + 1)).blinded;
        packed.set(bytes, index * 32);
        const single = await outcome(() => suite.blindEvaluate(secretKey, packed));
        expect(single).toBe(`GroupError:${code}`);
        for (const job of [
          () => pool.blindEvaluate(suite.id, suite.mode, secretKey, packed),
          () => pool.blindEvaluateVerifiable(voprf.id, voprf.mode, secretKey, packed, seededRng(seed)),
          () => pool.multiplyPacked('ristretto255', secretKey, packed),
        ]) {
          const err = await job().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(GroupError);
          expect((err as GroupError).code).toBe(code);
          expect((err as GroupError).message).toContain(`at index ${index} `);
        }
        // A bad evaluated element is the suite's `bad_evaluation` on the client side.
        const state = suite.blind(items(n), seededRng(seed + 1));
        const evaluated = suite.blindEvaluate(secretKey, state.blinded);
        evaluated.set(bytes, index * 32);
        expect(await outcome(pool.finalize(suite.id, suite.mode, state, evaluated))).toBe(await outcome(() => suite.finalize(state, evaluated)));
        // ... and the same pool still answers correctly.
        const xs = items(n, 'after');
        expect(await pool.evaluate(suite.id, suite.mode, secretKey, xs)).toEqual(suite.evaluate(secretKey, xs));
      }),
      { numRuns: 10 },
    );
  });

  it('empty batches give empty results, as the suite does', async () => {
    const { secretKey } = suite.generateKeyPair(seededRng(1));
    const empty = new Uint8Array(0);
    expect(await pool.evaluate(suite.id, suite.mode, secretKey, [])).toEqual([]);
    expect(await pool.hashToGroupPacked(suite.id, suite.mode, [])).toEqual(empty);
    expect(await pool.multiplyPacked('ristretto255', secretKey, empty)).toEqual(empty);
    expect(await pool.blindEvaluate(suite.id, suite.mode, secretKey, empty)).toEqual(empty);
    const state = await pool.blind(suite.id, suite.mode, [], seededRng(2));
    expect(state).toEqual(suite.blind([], seededRng(2)));
    expect(await pool.finalize(suite.id, suite.mode, state, empty)).toEqual([]);
    expect(await outcome(pool.blindEvaluateVerifiable(voprf.id, voprf.mode, secretKey, empty, seededRng(3)))).toBe(
      await outcome(() => voprf.blindEvaluateVerifiable(secretKey, empty, seededRng(3))),
    );
  });

  it('bad keys, lengths, inputs and blinds get the suite’s codes above the inline threshold', async () => {
    const { secretKey } = suite.generateKeyPair(seededRng(4));
    const xs = items(20);
    const state = suite.blind(xs, seededRng(5));
    const zeroKey = new Uint8Array(32);
    const long = [...xs, new Uint8Array(0x10000)];
    const zeroBlind = [0n, ...state.blinds.slice(1)];
    const cases: [() => Promise<unknown>, () => unknown][] = [
      [() => pool.evaluate(suite.id, suite.mode, zeroKey, xs), () => suite.evaluate(zeroKey, xs)],
      [() => pool.blindEvaluate(suite.id, suite.mode, zeroKey, state.blinded), () => suite.blindEvaluate(zeroKey, state.blinded)],
      [() => pool.blindEvaluate(suite.id, suite.mode, secretKey, state.blinded.subarray(1)), () => suite.blindEvaluate(secretKey, state.blinded.subarray(1))],
      [() => pool.evaluate(suite.id, suite.mode, secretKey, long), () => suite.evaluate(secretKey, long)],
      [() => pool.blindWith(suite.id, suite.mode, xs, state.blinds.slice(1)), () => suite.blindWith(xs, state.blinds.slice(1))],
      [() => pool.blindWith(suite.id, suite.mode, xs, zeroBlind), () => suite.blindWith(xs, zeroBlind)],
      [() => pool.finalize(suite.id, suite.mode, state, state.blinded.subarray(32)), () => suite.finalize(state, state.blinded.subarray(32))],
    ];
    for (const [pooled, single] of cases) {
      const expected = await outcome(single);
      expect(expected).not.toBe('ok');
      expect(await outcome(pooled)).toBe(expected);
    }
    await expect(pool.multiplyPacked('ristretto255', zeroKey, state.blinded)).rejects.toMatchObject({ code: 'bad_scalar' });
  });
});

describe('worker crashes and close()', () => {
  const suiteId = 'ristretto255-SHA512';

  it('a worker that dies rejects only its job with worker_crashed and is replaced', async () => {
    // The real worker, plus a listener that kills the thread on inputs starting with '!'.
    const source = [
      "import { parentPort } from 'node:worker_threads';",
      `await import(${JSON.stringify(WORKER.href)});`,
      "parentPort.on('message', (m) => { if (m.task.op === 'hashToGroup' && m.task.inputs.data[0] === 0x21) process.exit(9); });",
    ].join('\n');
    const workerUrl = new URL(`data:text/javascript,${encodeURIComponent(source)}`);
    const pool = new WorkerPool({ size: 2, backend: 'noble', inlineThreshold: 4, workerUrl });
    try {
      const group = await loadGroup('ristretto255', 'noble');
      const suite = createSuite(suiteId, Modes.OPRF, group);
      const ok = items(10);
      const expected = group.hashToGroupBatch(ok, suite.hashToGroupDST);
      expect(await pool.hashToGroupPacked(suiteId, Modes.OPRF, ok)).toEqual(expected);
      await expect(pool.hashToGroupPacked(suiteId, Modes.OPRF, items(10, '!'))).rejects.toMatchObject({ code: 'worker_crashed' });
      expect(pool.restarts).toBeGreaterThan(0);
      expect(await pool.hashToGroupPacked(suiteId, Modes.OPRF, ok)).toEqual(expected);
    } finally {
      await pool.close();
    }
  });

  it('a worker script that cannot start makes the pool unavailable instead of respawning forever', async () => {
    const workerUrl = new URL(`data:text/javascript,${encodeURIComponent('throw new Error("cannot start")')}`);
    const pool = new WorkerPool({ size: 1, inlineThreshold: 1, workerUrl });
    try {
      // Each attempt costs at least one crash; the pool gives up after 3 per worker
      // (threads.ts CRASH_LIMIT_PER_WORKER), so a bound on attempts, not on time, suffices.
      let code = '';
      for (let attempt = 0; attempt < 20 && code !== 'pool_unavailable'; attempt++) {
        code = await pool.hashToGroupPacked(suiteId, Modes.OPRF, items(2)).then(
          () => 'ok',
          (e: ContactPsiError) => e.code,
        );
        expect(['worker_crashed', 'pool_unavailable']).toContain(code);
      }
      expect(code).toBe('pool_unavailable');
    } finally {
      await pool.close();
    }
  });

  it('close() is idempotent; running, queued and later jobs reject with pool_closed, inline ones too', async () => {
    // Workers that announce each task they receive (on a BroadcastChannel) and never answer:
    // close() then happens while both workers are provably mid-task and a third task is
    // queued, with no wait on the clock (the old test slept 20 ms and hoped).
    const channelName = `pool-close-${process.pid}-${Math.random()}`;
    const source = [
      "import { parentPort } from 'node:worker_threads';",
      `const channel = new BroadcastChannel(${JSON.stringify(channelName)});`,
      "parentPort.on('message', (m) => channel.postMessage(m.id));",
    ].join('\n');
    const workerUrl = new URL(`data:text/javascript,${encodeURIComponent(source)}`);
    const pool = new WorkerPool({ size: 2, backend: 'noble', inlineThreshold: 4, maxSliceSize: 700, workerUrl });
    const suite = createSuite(suiteId, Modes.OPRF, await loadGroup('ristretto255', 'noble'));
    const { secretKey } = suite.generateKeyPair(seededRng(9));
    const listener = new BroadcastChannel(channelName);
    const received: unknown[] = [];
    const bothBusy = new Promise<void>((resolve) => {
      listener.onmessage = (event: MessageEvent) => {
        received.push(event.data);
        if (received.length === 2) resolve();
      };
    });
    // 2,000 items in slices of at most 700: three tasks, two running and one queued.
    const pending = pool.evaluate(suiteId, Modes.OPRF, secretKey, items(2000)).then(
      () => 'ok',
      (e: ContactPsiError) => e.code,
    );
    await bothBusy;
    listener.close();
    expect(received).toHaveLength(2);
    const first = pool.close();
    expect(pool.close()).toBe(first);
    await first;
    await pool.close();
    expect(await pending).toBe('pool_closed');
    await expect(pool.evaluate(suiteId, Modes.OPRF, secretKey, items(400))).rejects.toMatchObject({ code: 'pool_closed' });
    await expect(pool.evaluate(suiteId, Modes.OPRF, secretKey, items(1))).rejects.toMatchObject({ code: 'pool_closed' });
  });

  it('invalid options are refused', () => {
    expect(() => new WorkerPool({ size: 0 })).toThrow(expect.objectContaining({ code: 'invalid_option' }));
    expect(() => new WorkerPool({ inlineThreshold: 1.5 })).toThrow(expect.objectContaining({ code: 'invalid_option' }));
  });
});

describe('resolveWorkerUrl', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-worker-url-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('from TypeScript source: the compiled worker under dist/', () => {
    const url = resolveWorkerUrl(new URL('../src/parallel/pool.ts', import.meta.url).href);
    expect(url.href).toBe(WORKER.href);
  });

  it('from compiled JS: the sibling worker.js', () => {
    expect(resolveWorkerUrl(new URL('../dist/src/parallel/pool.js', import.meta.url).href).href).toBe(WORKER.href);
  });

  it('a missing build is `pool_unavailable`, telling to run npm run build', () => {
    mkdirSync(join(tmp, 'src', 'parallel'), { recursive: true });
    const moduleUrl = pathToFileURL(join(tmp, 'src', 'parallel', 'pool.ts')).href;
    let err: unknown;
    try {
      resolveWorkerUrl(moduleUrl);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ContactPsiError);
    expect(err).not.toBeInstanceOf(OprfError);
    expect((err as ContactPsiError).code).toBe('pool_unavailable');
    expect((err as ContactPsiError).message).toContain('npm run build');
  });
});
