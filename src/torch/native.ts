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
const candidates = roots.map((r) => path.join(r, 'native/build/Release/prime_native.node'));
const found = candidates.find((p) => existsSync(p));
if (!found) {
  throw new Error(
    `prime-ts: the native addon is not built (looked for ${candidates.join(', ')}). ` +
      'Run `make build` (or `npm run build:native`).',
  );
}

// The addon's surface is wide and uniform (handles in, handles out); it is typed loosely here
// and precisely on the Tensor class that wraps it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const N: any = createRequire(import.meta.url)(found);
