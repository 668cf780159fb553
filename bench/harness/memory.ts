/**
 * Resident-memory readings for the CLI's report. On Linux the peak (VmHWM)
 * can be restarted through `/proc/self/clear_refs`, so the peak of training
 * can be told apart from the peak of loading the data; elsewhere only the
 * whole process's peak (getrusage) is available.
 */
import * as fs from 'fs';
import * as v8 from 'v8';
import * as vm from 'vm';

/** Current resident memory after a garbage collection, MB. */
export function rssMb(): number {
  collectGarbage();
  return Math.round(process.memoryUsage().rss / 2 ** 20);
}

/** Peak resident memory since the process started or the last {@link restartPeakRss}, MB. */
export function peakRssMb(): number {
  try {
    const m = fs.readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+)\s+kB/);
    if (m) return Math.round(Number(m[1]) / 1024);
  } catch {
    // not Linux: fall through
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** Runs a full garbage collection, so garbage is not counted as resident (best effort). */
export function collectGarbage(): void {
  try {
    v8.setFlagsFromString('--expose-gc');
    (vm.runInNewContext('gc') as () => void)();
  } catch {
    // not available: the next collection happens when V8 decides
  }
}

/**
 * Restarts the peak at the current resident memory, after a garbage
 * collection (so the loader's dropped arrays are not counted); false where
 * the OS does not allow it.
 */
export function restartPeakRss(): boolean {
  collectGarbage();
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}
