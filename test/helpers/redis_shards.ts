// A data module for the Redis executor's module source (ShardSource 'module'):
// deterministic toy rows, so the coordinator and every worker agree on them.
// ER_TEST_SHARD_SHIFT (a worker's environment) shifts its inputs: a worker
// whose data differ from the coordinator's, which the coordinator must refuse.
import type {LoadedShard, ShardRequestInfo} from '../../src/node/index';

export const FEATURES = 12;
export const CLASSES = 3;

/** Rows [from, to): inputs in [−1, 1] from a hash of (row, feature); class by the sign pattern of two sums. */
export function toyRows(from: number, to: number, shift = 0): LoadedShard {
  const n = to - from;
  const x = new Float32Array(n * FEATURES), y = new Float32Array(n * CLASSES);
  for (let i = 0; i < n; i++) {
    let a = 0, b = 0;
    for (let j = 0; j < FEATURES; j++) {
      const h = Math.sin((from + i + 1) * 12.9898 + (j + 1) * 78.233) * 43758.5453;
      const v = 2 * (h - Math.floor(h)) - 1 + shift;
      x[i * FEATURES + j] = v;
      if (j % 2 === 0) a += v; else b += v * v;
    }
    y[i * CLASSES + (a > 0 ? 0 : b > FEATURES / 6 ? 1 : 2)] = 1;
  }
  return {x, xShape: [n, FEATURES], y, yShape: [n, CLASSES]};
}

export function loadShard(info: ShardRequestInfo): LoadedShard {
  return toyRows(info.from, info.to, Number(process.env.ER_TEST_SHARD_SHIFT ?? 0));
}
