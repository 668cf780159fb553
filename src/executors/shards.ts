/**
 * How a remote executor splits a run's rows into shards: whole chunks per
 * shard, contiguous, as even as whole chunks allow. Every executor uses the
 * same split, so a shard's rows (and their float32 chunk products) do not
 * depend on where it runs.
 */

/** Shard i holds rows [bounds[i], bounds[i + 1]) of `rows` rows cut in chunks of `chunkRows`. */
export function shardBounds(rows: number, chunkRows: number, shards: number): number[] {
  const chunks = Math.ceil(rows / chunkRows);
  return Array.from({length: shards + 1}, (_, i) => Math.min(rows, Math.round(i * chunks / shards) * chunkRows));
}
