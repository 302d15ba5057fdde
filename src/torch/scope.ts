/**
 * Deterministic memory management for native tensors.
 *
 * Every Tensor created while a `tidy` scope is open is recorded in it; when the scope's function
 * returns, every recorded tensor that is not part of the returned value (nor `keep`-marked) is
 * disposed. Returned tensors move to the enclosing scope. Garbage-collector finalizers remain a
 * safety net (they report native bytes to V8 so GC pressure is real), but hot loops should not
 * rely on them.
 */
import type { Tensor } from './tensor.js';

const stack: Tensor[][] = [];

/** @internal Called by the Tensor constructor. */
export function track(t: Tensor): void {
  const top = stack[stack.length - 1];
  if (top) top.push(t);
}

function collect(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if ((value as { _isTensor?: boolean })._isTensor) {
    out.add(value as Tensor);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value as object)) collect(v, out, depth + 1);
}

/**
 * Runs `fn` and disposes every tensor it created except those it returns (found in the returned
 * value: a tensor, or arrays / plain objects / Maps of them, a few levels deep).
 * `fn` must be synchronous: a scope cannot follow an `await`.
 */
export function tidy<R>(fn: () => R): R {
  stack.push([]);
  let result: R;
  let scope: Tensor[];
  try {
    result = fn();
  } catch (e) {
    scope = stack.pop()!;
    for (const t of scope) if (!t.kept) t.dispose();
    throw e;
  }
  scope = stack.pop()!;
  if (result instanceof Promise) {
    throw new Error('tidy(fn): fn returned a Promise; scopes are synchronous (dispose tensors explicitly across await)');
  }
  const keepSet = new Set<Tensor>();
  collect(result, keepSet);
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (keepSet.has(t)) parent?.push(t);
    else if (!t.kept) t.dispose();
  }
  return result;
}

/** Marks a tensor as owned by the caller: no enclosing `tidy` will dispose it. */
export function keep<T extends Tensor>(t: T): T {
  t.kept = true;
  return t;
}

/** Disposes every tensor found in a value (tensor, arrays, plain objects, Maps). */
export function dispose(value: unknown): void {
  const s = new Set<Tensor>();
  collect(value, s);
  for (const t of s) t.dispose();
}
