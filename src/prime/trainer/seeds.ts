/**
 * Seeds derived from (run seed, step, round, index) so that samples and mini-batch orders do not
 * depend on batching or on how prompts are sharded over data-parallel ranks.
 */

/** murmur3's 32-bit finalizer: spreads every input bit over the output. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit seed that depends on every part (order matters): fmix32 chained over the parts. */
export function derivedSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) h = fmix32((h ^ fmix32(p >>> 0)) + 0x7f4a7c15);
  return h;
}
/** The seed of one prompt's K samples (`rollout.seed_per_prompt`): independent of which rank or
 * which generate call samples them. `index` is the prompt's position in its round's draw. */
export const rolloutSeed = (seed: number, step: number, round: number, index: number): number => derivedSeed(1, seed, step, round, index);
/** The seed of a PPO epoch's mini-batch shuffle (`rollout.seed_per_prompt`). */
export const ppoShuffleSeed = (seed: number, step: number, epoch: number): number => derivedSeed(2, seed, step, epoch);
/** The seed of a re-queued prompt's samples (`rollout.buffer: prompts`): `index` is its place in the queue. */
export const requeueSeed = (seed: number, step: number, round: number, index: number): number => derivedSeed(3, seed, step, round, index);
/** The seed of the PRM probe set's samples. */
export const probeSeed = (seed: number, index: number): number => derivedSeed(4, seed, index);
