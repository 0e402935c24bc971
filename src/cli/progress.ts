/**
 * A one-line progress bar for long work (import, precompute, snapshot download). It draws
 * only when stdout is a terminal, so piped and --json output stays clean; it writes to
 * stderr so it never mixes with results.
 */
export interface Progress {
  update(done: number, total: number): void;
  done(): void;
}

const noop: Progress = { update() {}, done() {} };

export function progressBar(label: string, enabled = Boolean(process.stdout.isTTY)): Progress {
  if (!enabled) return noop;
  let last = -1;
  return {
    update(done, total) {
      const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
      if (pct === last) return;
      last = pct;
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% (${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')})`);
    },
    done() {
      if (last >= 0) process.stderr.write('\n');
      last = -1;
    },
  };
}
