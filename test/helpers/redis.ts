/**
 * Node test helpers for the Redis executor: a private redis-server on
 * 127.0.0.1 (a free port, no persistence, a temporary folder), and worker
 * processes (test/helpers/redis_worker_main.ts) whose job events the specs
 * read. Every wait is bounded.
 */
import {ChildProcess, spawn} from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves when `check()` is true; rejects after `ms` with `what`. */
export async function until(what: string, check: () => boolean|Promise<boolean>, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/** A redis-server of the test's own. */
export class TestRedis {
  private proc: ChildProcess|null = null;
  private constructor(readonly port: number, readonly dir: string) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<TestRedis> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-er-redis-'));
    const r = new TestRedis(await freePort(), dir);
    await r.launch();
    return r;
  }

  private async launch(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '',
                                       '--appendonly', 'no', '--dir', this.dir, '--protected-mode', 'no'],
                      {stdio: 'ignore'});
    const p = this.proc;
    let failed: Error|null = null;
    p.once('error', e => { failed = e; });
    await until(`redis-server on port ${this.port}`, async () => {
      if (failed) throw new Error(`redis-server could not start (${(failed as Error).message}): apt-get install redis-server`);
      return portOpen(this.port);
    }, 10000);
  }

  /** Kills the server at once (SIGKILL: nothing saved, every connection dropped). */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (p == null || p.exitCode != null) return;
    const gone = new Promise(r => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  /** Kills it and starts an empty one on the same port. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill();
    fs.rmSync(this.dir, {recursive: true, force: true});
  }
}

/** A job event a worker printed. */
export interface WorkerLine {
  phase: 'ready'|'start'|'done'|'failed'|'other';
  update?: number;
  pass?: number;
  shard?: number;
  error?: string;
}

/** A worker process (test/helpers/redis_worker_main.ts, or the CLI) and the events it printed. */
export class TestWorker {
  readonly lines: WorkerLine[] = [];
  readonly exited: Promise<number|null>;
  stderr = '';
  private waiters: Array<{test: (l: WorkerLine) => boolean, resolve: (l: WorkerLine) => void}> = [];
  private constructor(readonly proc: ChildProcess) {
    let buf = '';
    proc.stdout!.on('data', d => {
      buf += String(d);
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let parsed: WorkerLine;
        try {
          parsed = JSON.parse(line);
        } catch {
          // the CLI's lines: "… serving queue …", "update U pass P (kind) shard S/N: T s", banners
          parsed = {phase: line.includes('serving queue') ? 'ready' :
              /^update \d+ pass \d+ .*: [\d.]+ s$/.test(line) ? 'done' : 'other'};
        }
        this.lines.push(parsed);
        this.waiters = this.waiters.filter(w => {
          if (!w.test(parsed)) return true;
          w.resolve(parsed);
          return false;
        });
      }
    });
    proc.stderr!.on('data', d => { this.stderr += String(d); });
    this.exited = new Promise(r => proc.once('exit', code => r(code)));
  }

  /** Starts a worker on `queue`; resolves once it takes jobs. */
  static async start(url: string, queue: string, options: {lockSeconds?: number, version?: string,
                                                         env?: NodeJS.ProcessEnv, cli?: boolean} = {}):
      Promise<TestWorker> {
    const args = options.cli ?
        ['--import', 'tsx', 'src/node/cli.ts', 'worker', '--redis', url, '--queue', queue, '--backend', 'cpu',
         '--lock-seconds', String(options.lockSeconds ?? 30)] :
        ['--import', 'tsx', 'test/helpers/redis_worker_main.ts', url, queue, String(options.lockSeconds ?? 30),
         options.version ?? ''];
    const w = new TestWorker(spawn(process.execPath, args, {cwd: root, env: {...process.env, ...options.env},
                                                            stdio: ['ignore', 'pipe', 'pipe']}));
    await until('a worker to start', () => {
      if (w.proc.exitCode != null) throw new Error(`the worker exited with ${w.proc.exitCode}: ${w.stderr}`);
      return w.lines.some(l => l.phase === 'ready');
    }, 60000);
    return w;
  }

  /** Resolves with the first line from now on that passes `test` (as soon as it is read). */
  next(test: (l: WorkerLine) => boolean): Promise<WorkerLine> {
    return new Promise(resolve => this.waiters.push({test, resolve}));
  }

  /** The jobs it finished. */
  done(): WorkerLine[] {
    return this.lines.filter(l => l.phase === 'done');
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.proc.exitCode == null) this.proc.kill(signal);
  }
}
