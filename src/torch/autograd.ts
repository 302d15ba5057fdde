/** Gradient mode and a finite-difference gradient checker. */
import { N } from './native.js';
import { Tensor } from './tensor.js';
import { tidy } from './scope.js';

/** Runs fn with gradient recording off (PyTorch's `torch.no_grad()`), restoring the mode after. */
export const noGrad = <R>(fn: () => R): R => withGradMode(false, fn);
/** Runs fn with gradient recording on, restoring the mode after. */
export const enableGrad = <R>(fn: () => R): R => withGradMode(true, fn);
function withGradMode<R>(enabled: boolean, fn: () => R): R {
  const prev: boolean = N.setGradEnabled(enabled);
  try {
    return fn();
  } finally {
    N.setGradEnabled(prev);
  }
}
export const isGradEnabled = (): boolean => N.isGradEnabled();

export interface GradcheckResult {
  ok: boolean;
  /** Largest |analytic − numeric| over all inputs and elements. */
  maxAbsDiff: number;
  /** Per input: the analytic and numeric gradients, flattened. */
  details: { analytic: number[]; numeric: number[] }[];
}

/**
 * Compares autograd's gradient of sum(fn(inputs) * w) (w a fixed random weight, so every output
 * element matters) with central finite differences, in float64. Inputs must be float64 leaves
 * with requiresGrad set. Passes when |a − n| ≤ atol + rtol·|n| everywhere.
 */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: { eps?: number; atol?: number; rtol?: number } = {}): GradcheckResult {
  const eps = opts.eps ?? 1e-6, atol = opts.atol ?? 1e-5, rtol = opts.rtol ?? 1e-3;
  for (const [i, x] of inputs.entries())
    if (x.dtype !== 'float64' || !x.requiresGrad) throw new Error(`gradcheck: input ${i} must be float64 with requiresGrad`);
  const weight = tidy(() => randLike(noGradCall(fn, inputs)));
  const objective = (): number => tidy(() => noGradCall(fn, inputs).mul(weight).sum().item());
  const analytic = inputs.map((x) => {
    x.zeroGrad();
    return [] as number[];
  });
  tidy(() => fn(...inputs).mul(weight).sum().backward());
  inputs.forEach((x, i) => {
    const g = x.grad;
    analytic[i] = g ? g.toFlatArray() : new Array(x.numel).fill(0);
    g?.dispose();
  });
  const details: GradcheckResult['details'] = [];
  let maxAbsDiff = 0;
  let ok = true;
  inputs.forEach((x, i) => {
    const numeric: number[] = [];
    const base = tidy(() => x.detach().toFlatArray());
    // A detached view shares x's storage, so writing one element of it perturbs x in place.
    const flat = tidy(() => x.detach().reshape(-1));
    const set = (k: number, v: number) => tidy(() => void flat.narrow(0, k, 1).fill_(v));
    for (let k = 0; k < base.length; k++) {
      set(k, base[k]! + eps);
      const fp = objective();
      set(k, base[k]! - eps);
      const fm = objective();
      set(k, base[k]!);
      numeric.push((fp - fm) / (2 * eps));
    }
    flat.dispose();
    const a = analytic[i]!;
    for (let k = 0; k < a.length; k++) {
      const d = Math.abs(a[k]! - numeric[k]!);
      maxAbsDiff = Math.max(maxAbsDiff, d);
      if (!(d <= atol + rtol * Math.abs(numeric[k]!))) ok = false;
    }
    details.push({ analytic: a, numeric });
  });
  weight.dispose();
  return { ok, maxAbsDiff, details };
}

function noGradCall(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): Tensor {
  return noGrad(() => fn(...inputs));
}
function randLike(t: Tensor): Tensor {
  // deterministic weights in [0.5, 1.5): distinct per element, independent of the RNG state
  const n = t.numel;
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 + ((i * 0.6180339887) % 1);
  return new Tensor(N.fromBytes(w, t.shape, 'float64', null));
}
