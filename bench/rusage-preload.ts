/**
 * Preloaded (`node --import`) into a CLI process the benchmark spawns: when the process
 * exits, its resource usage (peak RSS, CPU of every thread) goes to $BENCH_RUSAGE_OUT, so a
 * whole-process figure needs no change to the command measured.
 */
import { writeFileSync } from 'node:fs';

const out = process.env.BENCH_RUSAGE_OUT;
if (out) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(out, JSON.stringify({ maxRssKiB: u.maxRSS, userUs: u.userCPUTime, systemUs: u.systemCPUTime }));
  });
}
