/**
 * Size classes: the client pads its query with dummy items up to the next class, so the
 * server learns only the class, not the exact size of the address book. Classes are
 * powers of two from 64 up, with the midpoints 1.5 x 2^k in between (overhead <= 50%).
 */
export function sizeClass(n: number): number {
  let c = 64;
  while (c < n) {
    const mid = c + c / 2;
    if (mid >= n) return mid;
    c *= 2;
  }
  return c;
}

/** Dummy inputs: random 32-byte strings under a prefix no real identifier carries. */
export function makeDummies(count: number, rng: (n: number) => Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const d = new Uint8Array(38);
    d.set([0x64, 0x75, 0x6d, 0x6d, 0x79, 0x3a]); // "dummy:"
    d.set(rng(32), 6);
    out.push(d);
  }
  return out;
}
