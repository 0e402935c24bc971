/**
 * Linear memory management without a runtime (compiled with `--runtime stub` and no managed
 * allocation): everything above __heap_base belongs to the current call. The caller's
 * inputs go at heapStart() (see index.ts scratch), the MSM's working area right after them;
 * memory grows on demand and is never shrunk.
 */

export function align16(p: usize): usize {
  return (p + 15) & ~(<usize>15);
}

export function heapStart(): usize {
  return align16(__heap_base);
}

/** Makes [0, end) addressable; false when the engine refuses to grow the memory. */
export function ensureMemory(end: usize): bool {
  const have = (<usize>memory.size()) << 16;
  if (end <= have) return true;
  const pages = <i32>((end - have + 0xffff) >> 16);
  return memory.grow(pages) >= 0;
}
