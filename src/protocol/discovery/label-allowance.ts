/**
 * Which known outputs a sync evaluates again so that its dir.labels.get fits the server's
 * label allowance (server.ts onLabelsGet, spec/discovery.md §9): at most (elements evaluated
 * in the session + hashes of the presented receipt) lookup keys, so that labels are opened
 * only for what the account paid for.
 *
 * Outputs a cut-off sync kept beyond its last receipt (a node killed between two running
 * receipts, or before the first: spec/sync-failover.md) were paid for, but the server holds
 * no proof of it, so their labels fit only where the receipt leaves room. With K known
 * outputs whose labels are needed and a presented receipt of S hashes, evaluating
 * m = max(0, K - S) of them again gives, whatever the new evaluations match,
 *   keys = K + (new matches) <= S + m + (elements evaluated)   (new matches <= evaluated),
 * so the sync never fails `too_large`. The m are taken among the outputs the receipt does not
 * cover (at least K - S of the K are not among its S hashes): evaluating a receipted element
 * again in its epoch is a charged re-evaluation (quota.ts), the double charge this avoids;
 * an unreceipted one is charged as a new element, as it would be after any lost receipt.
 * Outputs that are no filter hit need no label and are never evaluated again.
 */

/**
 * `needed`: the known outputs' identifiers whose labels this sync must fetch, in book order;
 * `presented`: hashes in the receipt presented (0 without one); `covered`: whether the
 * receipt's set holds an identifier's charge hash. Returns the identifiers to evaluate again.
 */
export function outputsToReevaluate(needed: readonly string[], presented: number, covered: (identifier: string) => boolean): string[] {
  const excess = needed.length - presented;
  if (excess <= 0) return [];
  const again: string[] = [];
  for (const identifier of needed) {
    if (again.length === excess) break;
    if (!covered(identifier)) again.push(identifier);
  }
  return again;
}

/**
 * Partial label requests (spec/discovery.md §9, issue 13): a client may ask for the labels
 * of each answered chunk's hits while later chunks are evaluated, so the server's lookups
 * overlap the evaluation instead of forming a serial tail after it. Each request costs the
 * server a store transaction, so their number is bounded by the chunks answered when the
 * request arrives, plus one (the client's chunks are finalized one after another; the slack
 * covers a request that the last running receipt or a re-fetch would share). The key count
 * is bounded cumulatively by the allowance, over every label request of the session.
 */
export const PARTIAL_LABEL_SLACK = 1;

/** Whether one more partial request (the `made`+1-th) fits, `answered` chunks answered so far. */
export function partialRequestFits(made: number, answered: number): boolean {
  return made + 1 <= answered + PARTIAL_LABEL_SLACK;
}

/** Whether `keys` more label keys fit an allowance of which `asked` keys were already taken. */
export function labelKeysFit(asked: number, keys: number, allowance: number): boolean {
  return asked + keys <= allowance;
}
