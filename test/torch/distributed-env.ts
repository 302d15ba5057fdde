/** Prints the torchrun variables launch() set, and its arguments, as one JSON line. A helper of
 * distributed.test.ts; prints whatever is set when run on its own. */
const e = process.env;
const keys = ['MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'PRIME_NUM_THREADS', 'OMP_NUM_THREADS'] as const;
process.stdout.write(JSON.stringify({ ...Object.fromEntries(keys.map((k) => [k, e[k]])), argv: process.argv.slice(2) }) + '\n');
