/**
 * Modules: named parameters and buffers, train/eval, state dicts; the layers a causal LM needs.
 * Parameters and buffers are owned by their module (kept out of tidy scopes); `dispose()` frees
 * them all.
 */
import { Tensor } from './tensor.js';
import { keep } from './scope.js';
import { noGrad } from './autograd.js';
import { empty, ones, zeros } from './creation.js';
import { dropout, embedding, layerNorm, linear, rmsNorm } from './functional.js';
import type { DType, Device } from './tensor.js';

export class Module {
  training = true;
  #params = new Map<string, Tensor>();
  #buffers = new Map<string, Tensor>();
  #children = new Map<string, Module>();

  /** Registers (and keeps) a trainable parameter. */
  protected param(name: string, t: Tensor): Tensor {
    keep(t);
    if (!t.requiresGrad) t.requiresGrad = true;
    this.#params.set(name, t);
    return t;
  }
  /** Registers (and keeps) a non-trainable tensor saved in the state dict (persistent) or not. */
  protected buffer(name: string, t: Tensor, persistent = true): Tensor {
    keep(t);
    this.#buffers.set(name, t);
    if (!persistent) this.#nonPersistent.add(name);
    return t;
  }
  #nonPersistent = new Set<string>();
  protected child<M extends Module>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }

  /** [dotted name, parameter] pairs, children first-registered first. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.#params) out.push([prefix + n, p]);
    for (const [n, c] of this.#children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  namedBuffers(prefix = '', persistentOnly = false): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, b] of this.#buffers) if (!persistentOnly || !this.#nonPersistent.has(n)) out.push([prefix + n, b]);
    for (const [n, c] of this.#children) out.push(...c.namedBuffers(`${prefix}${n}.`, persistentOnly));
    return out;
  }
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, c] of this.#children) out.push(...c.namedModules(`${prefix}${n}.`));
    return out;
  }
  /** Replaces the tensor registered under a dotted name (used by loaders); disposes the old one. */
  setTensor(dotted: string, t: Tensor): void {
    const parts = dotted.split('.');
    const leaf = parts.pop()!;
    let m: Module = this;
    for (const p of parts) {
      const c = m.#children.get(p);
      if (!c) throw new Error(`no submodule '${p}' in '${dotted}'`);
      m = c;
    }
    keep(t);
    const old = m.#params.get(leaf) ?? m.#buffers.get(leaf);
    if (m.#params.has(leaf)) {
      if (!t.requiresGrad) t.requiresGrad = true;
      m.#params.set(leaf, t);
    } else if (m.#buffers.has(leaf)) m.#buffers.set(leaf, t);
    else throw new Error(`no parameter or buffer '${dotted}'`);
    if (old && old !== t) old.dispose();
    m.onTensorReplaced(leaf, t);
  }
  /** Hook for subclasses that hold direct references to their tensors. */
  protected onTensorReplaced(_name: string, _t: Tensor): void {}

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Parameters and persistent buffers by dotted name (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers('', true)]);
  }
  /**
   * Copies values into the existing parameters/buffers. Strict by default: a missing, unexpected
   * or mis-shaped entry is an error naming it.
   */
  loadStateDict(sd: Map<string, Tensor>, opts: { strict?: boolean } = {}): void {
    const mine = this.stateDict();
    const strict = opts.strict ?? true;
    if (strict) {
      const missing = [...mine.keys()].filter((k) => !sd.has(k));
      const extra = [...sd.keys()].filter((k) => !mine.has(k));
      if (missing.length || extra.length)
        throw new Error(`loadStateDict: ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unexpected ${extra.join(', ')}` : ''}`);
    }
    noGrad(() => {
      for (const [k, dst] of mine) {
        const src = sd.get(k);
        if (!src) continue;
        if (src.shape.join(',') !== dst.shape.join(','))
          throw new Error(`loadStateDict: '${k}' has shape [${src.shape}] but the module expects [${dst.shape}]`);
        dst.copy_(src);
      }
    });
  }
  /** Zeroes (drops) every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }
  /**
   * Casts every floating parameter and buffer to `dtype`, or moves every parameter and buffer to
   * a device ('cpu', 'cuda', 'cuda:N'); new tensors replace the old, which are disposed.
   */
  to(dtypeOrDevice: DType | Device): this {
    const isDevice = dtypeOrDevice === 'cpu' || dtypeOrDevice.startsWith('cuda');
    const norm = (d: string) => (d === 'cuda' ? 'cuda:0' : d);
    noGrad(() => {
      for (const [n, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
        if (isDevice ? norm(t.device) !== norm(dtypeOrDevice) : t.isFloatingPoint && t.dtype !== dtypeOrDevice) this.setTensor(n, t.to(dtypeOrDevice));
      }
    });
    return this;
  }
  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.numel, 0);
  }
  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) t.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

export interface LayerOptions { dtype?: DType }

/** y = x Wᵀ + b; W: (out, in). Init: U(−1/√in, 1/√in), as PyTorch's default. */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LayerOptions & { bias?: boolean } = {}) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', noGrad(() => empty([outFeatures, inFeatures], { dtype: opts.dtype }).uniform_(-bound, bound)));
    this.bias = opts.bias === false ? null : this.param('bias', noGrad(() => empty([outFeatures], { dtype: opts.dtype }).uniform_(-bound, bound)));
  }
  protected override onTensorReplaced(name: string, t: Tensor): void {
    if (name === 'weight') this.weight = t;
    else if (name === 'bias') this.bias = t;
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** Lookup table (num, dim); init N(0, 1) as PyTorch. */
export class Embedding extends Module {
  weight: Tensor;
  constructor(readonly num: number, readonly dim: number, opts: LayerOptions = {}) {
    super();
    this.weight = this.param('weight', noGrad(() => empty([num, dim], { dtype: opts.dtype }).normal_(0, 1)));
  }
  protected override onTensorReplaced(name: string, t: Tensor): void {
    if (name === 'weight') this.weight = t;
  }
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}

/** RMSNorm (Zhang & Sennrich 2019): weight · x / sqrt(mean(x²) + eps). */
export class RMSNorm extends Module {
  weight: Tensor;
  constructor(readonly dim: number, readonly eps = 1e-6, opts: LayerOptions = {}) {
    super();
    this.weight = this.param('weight', ones([dim], { dtype: opts.dtype }));
  }
  protected override onTensorReplaced(name: string, t: Tensor): void {
    if (name === 'weight') this.weight = t;
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

export class LayerNorm extends Module {
  weight: Tensor;
  bias: Tensor;
  constructor(readonly dim: number, readonly eps = 1e-5, opts: LayerOptions = {}) {
    super();
    this.weight = this.param('weight', ones([dim], { dtype: opts.dtype }));
    this.bias = this.param('bias', zeros([dim], { dtype: opts.dtype }));
  }
  protected override onTensorReplaced(name: string, t: Tensor): void {
    if (name === 'weight') this.weight = t;
    else if (name === 'bias') this.bias = t;
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, [this.dim], this.weight, this.bias, this.eps);
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }
}
