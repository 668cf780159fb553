/**
 * Training progress for the CLI: a one-line bar (batches, examples/s, ETA)
 * redrawn in place on a TTY, plain lines otherwise.
 */

/** Formats seconds as m:ss or h:mm:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return (h > 0 ? `${h}:` : '') + `${mm}:${String(r).padStart(2, '0')}`;
}

/** A progress reporter for one epoch at a time. */
export class Progress {
  private start = 0;
  private lastDraw = 0;
  private epoch = 0;
  private epochs = 0;
  private batches = 0;
  private batchSize = 0;
  private label = '';

  constructor(private readonly out: NodeJS.WriteStream = process.stdout,
              private readonly tty = Boolean(process.stdout.isTTY)) {}

  /** Starts an epoch of `batches` batches of `batchSize` rows (`label` names the run). */
  beginEpoch(epoch: number, epochs: number, batches: number, batchSize: number, label = ''): void {
    this.label = label ? `${label} ` : '';
    this.start = Date.now();
    this.lastDraw = 0;
    this.epoch = epoch;
    this.epochs = epochs;
    this.batches = batches;
    this.batchSize = batchSize;
    if (!this.tty) this.out.write(`${this.label}epoch ${epoch}/${epochs}: ${batches} batches of ${batchSize}\n`);
  }

  /** Reports that `done` batches are finished. */
  batch(done: number): void {
    if (!this.tty) return;
    const now = Date.now();
    if (done < this.batches && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const elapsed = (now - this.start) / 1000;
    const rate = done * this.batchSize / Math.max(elapsed, 1e-3);
    const eta = (this.batches - done) * elapsed / Math.max(done, 1);
    const width = 24, filled = Math.round(width * done / this.batches);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    this.out.write(`\r\x1b[2K${this.label}epoch ${this.epoch}/${this.epochs} ${bar} ${done}/${this.batches} ` +
                   `${Math.round(rate)} ex/s ETA ${formatDuration(eta)}`);
  }

  /** Ends the epoch with a summary line. */
  endEpoch(summary: string): void {
    if (this.tty) this.out.write('\r\x1b[2K');
    this.out.write(`${summary}\n`);
  }
}
