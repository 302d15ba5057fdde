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
// dist/src/torch -> package root; src/torch when run from sources.
const roots = [path.resolve(here, '../../..'), path.resolve(here, '../..')];
// PRIME_NATIVE=/path/to/prime_native.node selects another build of the addon (e.g. the one
// against libtorch 2.x in native/build-lt2, made by `make build-libtorch2`).
const override = process.env.PRIME_NATIVE;
const candidates = override ? [path.resolve(override)] : roots.map((r) => path.join(r, 'native/build/Release/prime_native.node'));
const found = candidates.find((p) => existsSync(p));

// libgomp's default is to spin-wait between parallel regions. When the cores are shared (other
// ranks, verifier sandboxes, other jobs) spinning threads starve each other: a small training
// step measured 2–18 s instead of 0.3 s under a load of 6 on 2 cores. Passive waiting costs little
// when the machine is idle. Must be set before libgomp loads with the addon; a user's value wins.
process.env.OMP_WAIT_POLICY ??= 'PASSIVE';

/** Thrown on the first use of a native function when the addon is not built or does not load. */
export class NativeAddonError extends Error {
  constructor(why: string) {
    super(
      `prime-ts: the native addon (libtorch) is not available: ${why}. ` +
        'Build it against a libtorch: in a checkout, `make build`; in an installed package, ' +
        '`LIBTORCH=/path/to/libtorch npm rebuild --foreground-scripts prime-ts` (or install Debian\'s libtorch-dev ' +
        'and run `npm rebuild prime-ts`; npm >= 11 first needs `npm install-scripts approve prime-ts`). ' +
        'prime-ts/verify, configs and `prime plot` work without it.',
    );
    this.name = 'NativeAddonError';
  }
}

let loadError: string | null = null;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let addon: any = null;
if (!found) {
  loadError = override ? `PRIME_NATIVE=${override} does not exist (\`make build-libtorch2\` builds native/build-lt2)` : `not built (looked for ${candidates.join(', ')})`;
} else {
  try {
    addon = createRequire(import.meta.url)(found);
  } catch (e) {
    loadError = `${found} does not load: ${(e as Error).message.split('\n')[0]}`;
  }
}

/** Whether the addon loaded; when false, `nativeLoadError` says why and every native call throws. */
export const nativeAvailable: boolean = addon !== null;
export const nativeLoadError: string | null = loadError;

/** A stand-in whose every property access throws NativeAddonError (importing still works). */
function missing(why: string): unknown {
  return new Proxy({}, {
    get(_t, prop) {
      if (typeof prop === 'symbol' || prop === 'then') return undefined; // inspection, await
      throw new NativeAddonError(why);
    },
  });
}

// The addon's surface is wide and uniform (handles in, handles out); it is typed loosely here
// and precisely on the Tensor class that wraps it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const N: any = addon ?? missing(loadError!);
