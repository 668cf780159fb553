/**
 * Drivers of a sweep: they answer its requests by running the passes on
 * shards — synchronously on one shard in this thread, or through an
 * {@link UpdateSession} that may run them anywhere, possibly asynchronously.
 */
import {factorRequest} from '../spd';
import {NetworkUnit} from '../units';
import {ShardData, ShardRunner} from './map';
import {mergePasses, PassStats} from './plan';
import {SweepReply, SweepRequest, SweepResult, sweepSteps} from './sweep';

/** The sweep of one update as a generator (what {@link sweepSteps} returns). */
export type SweepSteps = ReturnType<typeof sweepSteps>;

/** Where the passes of one update run: every shard gets the same requests. */
export interface UpdateSession {
  /** Sets a weight slot on every shard (see {@link SweepRequest}). */
  set(request: Extract<SweepRequest, {kind: 'set'}>): void|Promise<void>;
  /** Runs a pass on every shard; one answer per shard. */
  pass(request: Extract<SweepRequest, {kind: 'pass'}>): PassStats[]|Promise<PassStats[]>;
  /**
   * Factors a Gram in place (see `FactorRequest`), e.g. shared with the
   * shards' threads; true if it was positive definite. Without it the
   * coordinator factors it alone.
   */
  factor?(request: Extract<SweepRequest, {kind: 'factor'}>): boolean|Promise<boolean>;
  /** Ends the update on every shard (drops its per-update state); called on success and on failure. */
  end(): void|Promise<void>;
}

/** `session`'s answer to one request of a sweep: a promise when the session's method returns one. */
function answer(req: SweepRequest, session: UpdateSession): SweepReply|Promise<SweepReply> {
  if (req.kind === 'set') {
    const done = session.set(req);
    return done instanceof Promise ? done.then(() => undefined) : undefined;
  }
  if (req.kind === 'factor') return (session.factor ?? factorRequest)(req);
  const answers = session.pass(req);
  return answers instanceof Promise ? answers.then(mergePasses) : mergePasses(answers);
}

/** Runs a sweep's passes on `session`, asynchronously. On failure the sweep is closed (its tensors released). */
export async function runSweep(steps: SweepSteps, session: UpdateSession): Promise<SweepResult> {
  let failed = true;
  try {
    let reply: SweepReply = undefined;
    for (let r = steps.next(reply); ; r = steps.next(reply)) {
      if (r.done) {
        failed = false;
        return r.value;
      }
      reply = await answer(r.value, session);
    }
  } finally {
    if (failed) steps.return(undefined as never);
    await session.end();
  }
}

/** Runs a sweep's passes synchronously on a session whose methods do not return promises. */
export function runSweepSync(steps: SweepSteps, session: UpdateSession): SweepResult {
  let failed = true;
  try {
    let reply: SweepReply = undefined;
    for (let r = steps.next(reply); ; r = steps.next(reply)) {
      if (r.done) {
        failed = false;
        return r.value;
      }
      const a = answer(r.value, session);
      if (a instanceof Promise) throw new Error('runSweepSync needs a synchronous session');
      reply = a;
    }
  } finally {
    if (failed) steps.return(undefined as never);
    session.end();
  }
}

/** A synchronous session over one shard in this thread. */
export function localSession(units: NetworkUnit[], inputShape: number[], data: ShardData): UpdateSession {
  let runner: ShardRunner|null = null;
  const get = () => runner ??= new ShardRunner(units, inputShape);
  return {
    set: req => get().set(req.slot, req.unit, req.value),
    pass: req => [get().run(req.plan, data)],
    end: () => {
      runner?.dispose();
      runner = null;
    },
  };
}
