/**
 * How a client cuts the identifiers it evaluates into dir.evaluate chunks (spec/client.md,
 * "Pipelined first sync"). The server takes any chunk of 1..chunk elements, one proof each.
 *
 * Inline, every chunk is `chunk` long. Pipelined (the group work offloaded), the first and
 * the last chunks are a quarter of that: the server starts evaluating as soon as a few
 * hundred contacts are blinded instead of a whole chunk, and after the server's last answer
 * the client has only a short chunk to verify and unblind before it can ask for the labels
 * (the two ends are where one side waits for the other; in between both are busy). Each
 * extra chunk costs one DLEQ proof on each side, a few group operations.
 */

/**
 * Books of fewer than this many full chunks are cut uniformly even when pipelined: the two
 * extra chunks cost two proofs and message headers (~190 bytes), more than 0.1 byte per
 * contact below 4 chunks (the first sync's wire goal is 80 bytes per contact, issue 13 §1),
 * for a few tens of milliseconds of overlap.
 */
export const PIPELINE_MIN_CHUNKS = 4;

/** The plan of a sync whose group work is offloaded: pipelinedChunks from PIPELINE_MIN_CHUNKS full chunks on, else uniform. */
export function offloadChunks(total: number, chunk: number): number[] {
  return total >= PIPELINE_MIN_CHUNKS * chunk ? pipelinedChunks(total, chunk) : uniformChunks(total, chunk);
}

/** Chunk boundaries: [0, e_1, ..., total], each chunk e_(i+1) - e_i in [1, chunk]. */
export function uniformChunks(total: number, chunk: number): number[] {
  const bounds = [0];
  for (let at = 0; at < total; ) bounds.push((at = Math.min(total, at + chunk)));
  return bounds;
}

/** Boundaries with a short first and last chunk (a quarter of `chunk`, at least 1), full chunks between. */
export function pipelinedChunks(total: number, chunk: number): number[] {
  const head = Math.max(1, Math.floor(chunk / 4));
  const bounds = [0];
  let at = 0;
  const push = (size: number) => bounds.push((at += size));
  if (total > 0) push(Math.min(total, head));
  while (at < total) {
    const rest = total - at;
    if (rest <= head) push(rest);
    else if (rest <= chunk + head) {
      // The rest as one chunk and a short last one (each at most `chunk`).
      push(rest - head);
      push(head);
    } else push(chunk);
  }
  return bounds;
}
