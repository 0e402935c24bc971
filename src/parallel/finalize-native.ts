/**
 * RFC 9497 §3.3.1 Finalize over a packed batch, on a worker: the bytes of
 * `suite.finalizeUnblinded(input_i, element_i)` for every i, written into one buffer.
 *
 * Why not the suite's own call: it hashes with @noble/hashes (pure JS, ~3 µs per element
 * for SHA-512 here), and on the session-PSI setup path it runs once per server element.
 * Workers are Node-only, so OpenSSL's one-shot `crypto.hash` (~1.2 µs) is fair game there;
 * the suite itself stays portable. Each transcript is written into one reused buffer
 * (no per-element allocation besides the digest) that is zeroed at the end: it holds the
 * inputs and k*H(x).
 */
import { hash } from 'node:crypto';
import type { OprfSuite } from '../oprf/suite.js';

const FINALIZE = new TextEncoder().encode('Finalize');

/** OpenSSL's name of the suite's hash, or undefined when the suite's own call must run. */
function nativeHashName(suite: OprfSuite): 'sha512' | 'sha256' | undefined {
  if (typeof hash !== 'function') return undefined; // crypto.hash: Node >= 20.12 (engines says 20.19)
  if (suite.id === 'ristretto255-SHA512' && suite.outputSize === 64) return 'sha512';
  if (suite.id === 'P256-SHA256' && suite.outputSize === 32) return 'sha256';
  return undefined;
}

/**
 * F(k, x_i) = Finalize(x_i, elements_i) packed (n x outputSize bytes), for n inputs and n
 * packed elements of the suite's group (the caller made both: no wire checks here).
 */
export function finalizePacked(suite: OprfSuite, inputs: readonly Uint8Array[], elements: Uint8Array): Uint8Array {
  const size = suite.group.elementSize;
  const outSize = suite.outputSize;
  const n = inputs.length;
  const out = new Uint8Array(n * outSize);
  const algorithm = nativeHashName(suite);
  if (algorithm === undefined) {
    for (let i = 0; i < n; i++) out.set(suite.finalizeUnblinded(inputs[i], elements.subarray(i * size, (i + 1) * size)), i * outSize);
    return out;
  }
  let longest = 0;
  for (const input of inputs) longest = Math.max(longest, input.length);
  // len(input) || input || len(element) || element || "Finalize"
  const msg = new Uint8Array(4 + longest + size + FINALIZE.length);
  try {
    for (let i = 0; i < n; i++) {
      const input = inputs[i];
      const len = input.length;
      msg[0] = len >>> 8;
      msg[1] = len & 0xff;
      msg.set(input, 2);
      msg[2 + len] = size >>> 8;
      msg[3 + len] = size & 0xff;
      for (let j = 0, at = i * size; j < size; j++) msg[4 + len + j] = elements[at + j]; // no view per element
      msg.set(FINALIZE, 4 + len + size);
      out.set(hash(algorithm, msg.subarray(0, 4 + len + size + FINALIZE.length), 'buffer'), i * outSize);
    }
  } finally {
    msg.fill(0);
  }
  return out;
}
