import { cpus, loadavg, totalmem } from 'node:os';

let loadAtStart: number[] | undefined;

/** Called when a scenario starts: its result file then carries the load average of both ends. */
export function markScenarioStart(): void {
  loadAtStart = loadavg().map((l) => Math.round(l * 100) / 100);
}

/** The machine a figure was measured on; every result file carries it. */
export function machineInfo() {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    /** 1, 5 and 15 minute load averages when the scenario finished: the machine is shared. */
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    /** The same when the scenario started. */
    loadAverageAtStart: loadAtStart,
    date: new Date().toISOString(),
  };
}

export type MachineInfo = ReturnType<typeof machineInfo>;

export function machineLine(m: MachineInfo): string {
  const start = m.loadAverageAtStart ? `load average ${m.loadAverageAtStart.join(' / ')} at start, ` : '';
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${start}load average ${m.loadAverage.join(' / ')} at the end (1/5/15 min; the machine is shared), ${m.date}`;
}
