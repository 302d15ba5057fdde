/**
 * Optimizers (one native call per parameter group per step), learning-rate schedules and
 * gradient clipping. State tensors are owned by the optimizer; `stateDict()` exposes them for
 * checkpoints.
 */
import { N } from './native.js';
import { Tensor } from './tensor.js';
import { keep } from './scope.js';
import { zerosLike } from './creation.js';
import { noGrad } from './autograd.js';

export interface ParamGroup {
  params: Tensor[];
  lr?: number;
  weightDecay?: number;
}

export abstract class Optimizer {
  readonly groups: (Required<ParamGroup> & Record<string, unknown>)[];
  /** Steps taken. */
  stepCount = 0;
  constructor(params: Tensor[] | ParamGroup[], defaults: { lr: number; weightDecay: number }) {
    const gs: ParamGroup[] = params.length && params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as ParamGroup[]);
    this.groups = gs.map((g) => ({ ...g, lr: g.lr ?? defaults.lr, weightDecay: g.weightDecay ?? defaults.weightDecay }));
  }
  abstract step(): void;
  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.zeroGrad();
  }
  /** Sets every group's learning rate (schedules call this). */
  setLr(lr: number): void {
    for (const g of this.groups) g.lr = lr;
  }
  /** Named state tensors (for checkpoints) and scalar state. */
  abstract stateDict(): { tensors: Map<string, Tensor>; scalars: Record<string, number> };
  abstract loadStateDict(sd: { tensors: Map<string, Tensor>; scalars: Record<string, number> }): void;
  abstract dispose(): void;
}

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  /** Decoupled weight decay (Loshchilov & Hutter 2019). PyTorch's default is 0.01. */
  weightDecay?: number;
}

/** AdamW with bias correction, decoupled weight decay; matches torch.optim.AdamW (non-amsgrad). */
export class AdamW extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  #m: Tensor[][];
  #v: Tensor[][];
  constructor(params: Tensor[] | ParamGroup[], opts: AdamWOptions = {}) {
    super(params, { lr: opts.lr ?? 1e-3, weightDecay: opts.weightDecay ?? 0.01 });
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.#m = this.groups.map((g) => g.params.map((p) => keep(zerosLike(p))));
    this.#v = this.groups.map((g) => g.params.map((p) => keep(zerosLike(p))));
  }
  step(): void {
    this.stepCount++;
    this.groups.forEach((g, i) => {
      N.adamwStep(g.params.map((p) => p.handle), this.#m[i]!.map((t) => t.handle), this.#v[i]!.map((t) => t.handle),
        this.stepCount, g.lr, this.betas[0], this.betas[1], this.eps, g.weightDecay);
    });
  }
  stateDict() {
    const tensors = new Map<string, Tensor>();
    this.groups.forEach((g, i) => g.params.forEach((_, j) => {
      tensors.set(`${i}.${j}.exp_avg`, this.#m[i]![j]!);
      tensors.set(`${i}.${j}.exp_avg_sq`, this.#v[i]![j]!);
    }));
    return { tensors, scalars: { step: this.stepCount } };
  }
  loadStateDict(sd: { tensors: Map<string, Tensor>; scalars: Record<string, number> }): void {
    noGrad(() => this.groups.forEach((g, i) => g.params.forEach((_, j) => {
      for (const [name, arr] of [['exp_avg', this.#m], ['exp_avg_sq', this.#v]] as const) {
        const src = sd.tensors.get(`${i}.${j}.${name}`);
        if (!src) throw new Error(`AdamW.loadStateDict: missing '${i}.${j}.${name}'`);
        arr[i]![j]!.copy_(src);
      }
    })));
    this.stepCount = sd.scalars.step ?? 0;
  }
  dispose(): void {
    for (const t of [...this.#m.flat(), ...this.#v.flat()]) t.dispose();
  }
}

export interface SGDOptions { lr?: number; momentum?: number; weightDecay?: number; nesterov?: boolean }

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;
  #buf: Tensor[][] | null;
  constructor(params: Tensor[] | ParamGroup[], opts: SGDOptions = {}) {
    super(params, { lr: opts.lr ?? 1e-2, weightDecay: opts.weightDecay ?? 0 });
    this.momentum = opts.momentum ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.#buf = this.momentum ? this.groups.map((g) => g.params.map((p) => keep(zerosLike(p)))) : null;
  }
  step(): void {
    this.stepCount++;
    this.groups.forEach((g, i) => {
      N.sgdStep(g.params.map((p) => p.handle), this.#buf ? this.#buf[i]!.map((t) => t.handle) : null, g.lr, this.momentum, g.weightDecay, this.nesterov);
    });
  }
  stateDict() {
    const tensors = new Map<string, Tensor>();
    this.#buf?.forEach((b, i) => b.forEach((t, j) => tensors.set(`${i}.${j}.momentum_buffer`, t)));
    return { tensors, scalars: { step: this.stepCount } };
  }
  loadStateDict(sd: { tensors: Map<string, Tensor>; scalars: Record<string, number> }): void {
    noGrad(() => this.#buf?.forEach((b, i) => b.forEach((t, j) => {
      const src = sd.tensors.get(`${i}.${j}.momentum_buffer`);
      if (!src) throw new Error(`SGD.loadStateDict: missing '${i}.${j}.momentum_buffer'`);
      t.copy_(src);
    })));
    this.stepCount = sd.scalars.step ?? 0;
  }
  dispose(): void {
    this.#buf?.flat().forEach((t) => t.dispose());
  }
}

/** Total L2 norm of the gradients (NaN/Inf propagate). */
export const gradNorm = (params: Tensor[]): number => N.gradNorm(params.map((p) => p.handle));
/**
 * Scales gradients so their total L2 norm is at most maxNorm; returns the norm before clipping.
 * A non-finite norm leaves the gradients untouched (the caller decides what to do).
 */
export const clipGradNorm = (params: Tensor[], maxNorm: number): number => N.clipGradNorm(params.map((p) => p.handle), maxNorm);

/** Learning rate at step `step` (0-based) for a schedule. */
export type LrSchedule = (step: number) => number;
export const constantLr = (lr: number): LrSchedule => () => lr;
/** Linear warmup from 0 to lr over `warmup` steps, then constant. */
export const linearWarmup = (lr: number, warmup: number): LrSchedule => (s) => (warmup > 0 && s < warmup ? (lr * (s + 1)) / warmup : lr);
/** Linear warmup, then cosine decay to `minLr` at `total` steps. */
export const cosineSchedule = (lr: number, total: number, warmup = 0, minLr = 0): LrSchedule => (s) => {
  if (warmup > 0 && s < warmup) return (lr * (s + 1)) / warmup;
  const p = Math.min(1, (s - warmup) / Math.max(1, total - warmup));
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * p));
};

/**
 * Low-precision (bfloat16) model parameters with float32 master copies, as in mixed-precision
 * training (Micikevicius et al. 2018, "Mixed Precision Training", §3.1): forward and backward run
 * in the parameters' dtype, the optimizer updates the float32 masters (so small updates are not
 * rounded away: bf16 keeps 8 significant bits), and the parameters are re-rounded from them.
 *
 *   const mw = new MasterWeights(model.parameters());  const opt = new AdamW(mw.master);
 *   loss.backward(); mw.gradsToMaster();  (per micro-batch: gradients accumulate in float32)
 *   opt.step(); opt.zeroGrad(); mw.masterToParams();
 *
 * Memory per parameter: 2 (bf16) + 4 (master) + 8 (AdamW's m, v in float32) + 4 (float32 grad)
 * + 2 (bf16 grad, transient) bytes, against 4 + 8 + 4 for plain float32 — the saving is in
 * activations and the time in bf16 GEMMs.
 */
export class MasterWeights {
  /** float32 leaves (requiresGrad) to hand to the optimizer, one per parameter, same order. */
  readonly master: Tensor[];
  /**
   * `master`: float32 tensors to own as the masters (e.g. the full-precision weights a checkpoint
   * was loaded with), one per parameter with its shape; the parameters are then rounded from
   * them. Default: float32 copies of the parameters.
   */
  constructor(readonly params: Tensor[], opts: { master?: Tensor[] } = {}) {
    if (opts.master) {
      const m = opts.master;
      if (m.length !== params.length) throw new Error(`MasterWeights: ${m.length} master tensors for ${params.length} parameters`);
      m.forEach((t, i) => {
        if (t.dtype !== 'float32') throw new Error(`MasterWeights: master ${i} is ${t.dtype}, expected float32`);
        if (t.shape.join(',') !== params[i]!.shape.join(',')) throw new Error(`MasterWeights: master ${i} has shape [${t.shape}] but its parameter [${params[i]!.shape}]`);
      });
      this.master = noGrad(() => m.map((t) => keep(t.requiresGrad ? t : t.requiresGrad_(true))));
      this.masterToParams();
    } else this.master = noGrad(() => params.map((p) => keep(p.detach().to('float32', { copy: true }).requiresGrad_(true))));
  }
  /**
   * Adds each parameter's gradient (as float32) to its master's and clears the parameter's, so
   * micro-batches accumulate in float32 (call it after every backward). A parameter without a
   * gradient leaves its master's as it is (none stays none: AdamW skips it).
   */
  gradsToMaster(): void {
    noGrad(() => this.params.forEach((p, i) => {
      const g = p.grad;
      if (!g) return;
      const m = this.master[i]!;
      const acc = m.grad;
      if (acc) {
        acc.add_(g);
        acc.dispose();
      } else {
        const g32 = g.to('float32', { copy: true });
        m.grad = g32;
        g32.dispose();
      }
      g.dispose();
      p.zeroGrad();
    }));
  }
  /** Rounds the updated masters back into the parameters. */
  masterToParams(): void {
    noGrad(() => this.params.forEach((p, i) => void p.copy_(this.master[i]!)));
  }
  dispose(): void {
    for (const t of this.master) t.dispose();
  }
}
