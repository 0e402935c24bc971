/**
 * The worker's side of additive blinding (src/oprf/additive.ts), one slice per task: the
 * same functions the single-thread path calls, so the bytes are the same. The unblinding
 * task is only ever sent by the pool after the whole batch's proof verified on the
 * calling thread (pool.ts finalizeAdditive); blinds arrive in buffers of their own and
 * are zeroed once parsed.
 */
import { additiveComposites, blindAdditive, unblindAdditiveElements } from '../oprf/additive.js';
import { finalizePacked } from './finalize-native.js';
import type { OprfSuite } from '../oprf/suite.js';
import { ownedBytes, unpackInputs, type Task, type TaskResult } from './wire.js';

type AdditiveTask = Extract<Task, { op: 'blindAdditive' | 'additiveComposites' | 'additiveUnblind' }>;

export function runAdditiveTask(suite: OprfSuite, task: AdditiveTask): TaskResult {
  switch (task.op) {
    case 'blindAdditive': {
      const blinds = takeScalars(suite, task.blinds);
      try {
        const state = blindAdditive(suite, unpackInputs(task.inputs), blinds);
        state.blinds.forEach((b) => b.fill(0));
        return { bytes: ownedBytes(state.blinded) };
      } finally {
        blinds.forEach((b) => b.fill(0));
      }
    }
    case 'additiveComposites': {
      const { decoded, m, z } = additiveComposites(suite, task.publicKey, task.blinded, task.evaluated, task.offset);
      return { bytes: ownedBytes(decoded), m, z };
    }
    case 'additiveUnblind': {
      const blinds = takeScalars(suite, task.blinds);
      let elements: Uint8Array;
      try {
        elements = unblindAdditiveElements(suite, task.publicKey, blinds, task.decoded);
      } finally {
        blinds.forEach((b) => b.fill(0));
      }
      try {
        // The bytes of suite.finalizeUnblinded, hashed with OpenSSL here (finalize-native.ts).
        return { bytes: finalizePacked(suite, unpackInputs(task.inputs), elements) };
      } finally {
        elements.fill(0);
      }
    }
  }
}

/** The packed blinds as copies (checked later by the group, `bad_scalar`); the transferred buffer is zeroed. */
function takeScalars(suite: OprfSuite, packed: Uint8Array): Uint8Array[] {
  const size = suite.group.scalar.byteLength;
  const out = new Array<Uint8Array>(packed.length / size);
  for (let i = 0; i < out.length; i++) out[i] = packed.slice(i * size, (i + 1) * size);
  packed.fill(0);
  return out;
}
