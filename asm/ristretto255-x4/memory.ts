/**
 * Linear memory without a runtime (compiled with `--runtime stub`; nothing here allocates
 * managed objects). Static state lives in data segments below __heap_base; everything
 * above it is the caller's I/O area for the current call (see index.ts alloc), grown on
 * demand and never shrunk.
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
