/**
 * Loads the libtorch addon built from `native/` (node-gyp). Every function of the addon takes
 * and returns opaque handles (`NativeHandle`); `Tensor` in tensor.ts is the typed face of them.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** An opaque native tensor handle. */
export interface NativeHandle { readonly __native: unique symbol }

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/src/torch -> repo root; src/torch when run from sources.
const roots = [path.resolve(here, '../../..'), path.resolve(here, '../..')];
// PRIME_NATIVE=/path/to/prime_native.node selects another build of the addon (e.g. the one
// against libtorch 2.x in native/build-lt2, made by `make build-libtorch2`).
const override = process.env.PRIME_NATIVE;
const candidates = override ? [path.resolve(override)] : roots.map((r) => path.join(r, 'native/build/Release/prime_native.node'));
const found = candidates.find((p) => existsSync(p));
if (!found) {
  throw new Error(
    override
      ? `prime-ts: PRIME_NATIVE=${override} does not exist (run \`make build-libtorch2\` for native/build-lt2)`
      : `prime-ts: the native addon is not built (looked for ${candidates.join(', ')}). ` + 'Run `make build` (or `npm run build:native`).',
  );
}

// libgomp's default is to spin-wait between parallel regions. When the cores are shared (other
// ranks, verifier sandboxes, other jobs) spinning threads starve each other: a small training
// step measured 2–18 s instead of 0.3 s under a load of 6 on 2 cores. Passive waiting costs little
// when the machine is idle. Must be set before libgomp loads with the addon; a user's value wins.
process.env.OMP_WAIT_POLICY ??= 'PASSIVE';

// The addon's surface is wide and uniform (handles in, handles out); it is typed loosely here
// and precisely on the Tensor class that wraps it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const N: any = createRequire(import.meta.url)(found);
