/**
 * A Qwen2/Qwen3/Llama-family decoder-only transformer (pre-norm, RMSNorm, rotary attention with
 * grouped-query heads, SiLU-gated MLP), with parameters named exactly as Hugging Face names them:
 *
 *   model.embed_tokens.weight                          (V, D)
 *   model.layers.N.input_layernorm.weight              (D)
 *   model.layers.N.self_attn.q_proj.{weight,bias}      (H·Dh, D), (H·Dh)      bias: Qwen2 / attention_bias
 *   model.layers.N.self_attn.k_proj.{weight,bias}      (Hkv·Dh, D), (Hkv·Dh)
 *   model.layers.N.self_attn.v_proj.{weight,bias}      (Hkv·Dh, D), (Hkv·Dh)
 *   model.layers.N.self_attn.o_proj.{weight,bias}      (D, H·Dh), (D)         bias: Llama/Qwen3 attention_bias only
 *   model.layers.N.self_attn.{q_norm,k_norm}.weight    (Dh), (Dh)             Qwen3 only
 *   model.layers.N.post_attention_layernorm.weight     (D)
 *   model.layers.N.mlp.{gate,up,down}_proj.weight      (I, D), (I, D), (D, I)
 *   model.norm.weight                                  (D)
 *   lm_head.weight                                     (V, D)                 absent when tied
 *
 * One layer:  h = x + o_proj(attn(rope(q_proj(n₁)), rope(k_proj(n₁)), v_proj(n₁))),  n₁ = rmsnorm₁(x)
 *             y = h + down_proj(silu(gate_proj(n₂)) ⊙ up_proj(n₂)),                  n₂ = rmsnorm₂(h)
 * attention is causal, restricted to non-padding keys, scaled by 1/√Dh, query head j reading
 * key/value head ⌊j / (H/Hkv)⌋. Qwen3 normalises each query and key head (RMSNorm over Dh,
 * `q_norm` / `k_norm`) after the projection and before RoPE.
 *
 * The layer runs as one native call (`decoderLayer` in native/src/nn.cc, which records autograd
 * like any op) — a layer is ~25 ops, and crossing from JS for each costs more than the op on
 * small decoding batches. `fused = false` runs the same math op by op from TypeScript
 * (`layerReference`), which tests compare against.
 */
import * as torch from '../torch/index.js';
import { Module, type DType, type Device, type Tensor, noGrad } from '../torch/index.js';
import { N } from '../torch/native.js';
import { wrap } from '../torch/tensor.js';
import type { LMConfig } from './config.js';
import type { KVCache } from './kvcache.js';
import { RopeTable } from './rope.js';
import { resolveDevice, sameDevice } from './device.js';

/** How a fresh model's parameters are filled. */
export type Init = { kind: 'empty' } | { kind: 'random'; std?: number };

/** A linear map y = x Wᵀ (+ b), W: (out, in), under HF's names `weight` / `bias`. */
export class Projection extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(inF: number, outF: number, bias: boolean, dtype: DType, init: Init) {
    super();
    this.weight = this.param('weight', fresh([outF, inF], dtype, init));
    this.bias = bias ? this.param('bias', fresh([outF], dtype, init)) : null;
  }
  protected override onTensorReplaced(name: string, t: Tensor): void {
    if (name === 'weight') this.weight = t;
    else if (name === 'bias') this.bias = t;
  }
  forward(x: Tensor): Tensor {
    return torch.linear(x, this.weight, this.bias);
  }
}

/** RMSNorm with HF's parameter name `weight` (initialised near 1). */
export class Norm extends Module {
  weight: Tensor;
  constructor(dim: number, readonly eps: number, dtype: DType, init: Init) {
    super();
    this.weight = this.param('weight', init.kind === 'random' ? noGrad(() => fresh([dim], dtype, init).add_(1)) : torch.empty([dim], { dtype }));
  }
  protected override onTensorReplaced(name: string, t: Tensor): void {
    if (name === 'weight') this.weight = t;
  }
  forward(x: Tensor): Tensor {
    return torch.rmsNorm(x, this.weight, this.eps);
  }
}

export class Attention extends Module {
  readonly q_proj: Projection;
  readonly k_proj: Projection;
  readonly v_proj: Projection;
  readonly o_proj: Projection;
  /** Qwen3's per-head RMSNorms of queries and keys (null for Qwen2/Llama). */
  readonly q_norm: Norm | null;
  readonly k_norm: Norm | null;
  constructor(c: LMConfig, dtype: DType, init: Init) {
    super();
    const D = c.hiddenSize, Dh = c.headDim;
    this.q_proj = this.child('q_proj', new Projection(D, c.numHeads * Dh, c.qkvBias, dtype, init));
    this.k_proj = this.child('k_proj', new Projection(D, c.numKvHeads * Dh, c.qkvBias, dtype, init));
    this.v_proj = this.child('v_proj', new Projection(D, c.numKvHeads * Dh, c.qkvBias, dtype, init));
    this.o_proj = this.child('o_proj', new Projection(c.numHeads * Dh, D, c.oBias, dtype, init));
    this.q_norm = c.qkNorm ? this.child('q_norm', new Norm(Dh, c.rmsNormEps, dtype, init)) : null;
    this.k_norm = c.qkNorm ? this.child('k_norm', new Norm(Dh, c.rmsNormEps, dtype, init)) : null;
  }
}

export class MLP extends Module {
  readonly gate_proj: Projection;
  readonly up_proj: Projection;
  readonly down_proj: Projection;
  constructor(c: LMConfig, dtype: DType, init: Init) {
    super();
    this.gate_proj = this.child('gate_proj', new Projection(c.hiddenSize, c.intermediateSize, c.mlpBias, dtype, init));
    this.up_proj = this.child('up_proj', new Projection(c.hiddenSize, c.intermediateSize, c.mlpBias, dtype, init));
    this.down_proj = this.child('down_proj', new Projection(c.intermediateSize, c.hiddenSize, c.mlpBias, dtype, init));
  }
}

export class DecoderLayer extends Module {
  readonly self_attn: Attention;
  readonly mlp: MLP;
  readonly input_layernorm: Norm;
  readonly post_attention_layernorm: Norm;
  constructor(readonly config: LMConfig, dtype: DType, init: Init) {
    super();
    this.self_attn = this.child('self_attn', new Attention(config, dtype, init));
    this.mlp = this.child('mlp', new MLP(config, dtype, init));
    this.input_layernorm = this.child('input_layernorm', new Norm(config.hiddenSize, config.rmsNormEps, dtype, init));
    this.post_attention_layernorm = this.child('post_attention_layernorm', new Norm(config.hiddenSize, config.rmsNormEps, dtype, init));
  }

  /** The tensors of the fused native layer, in its argument order (null for absent biases and norms). */
  nativeWeights(): (Tensor | null)[] {
    const a = this.self_attn, m = this.mlp;
    return [
      this.input_layernorm.weight, a.q_proj.weight, a.q_proj.bias, a.k_proj.weight, a.k_proj.bias, a.v_proj.weight, a.v_proj.bias,
      a.o_proj.weight, a.o_proj.bias, this.post_attention_layernorm.weight,
      m.gate_proj.weight, m.gate_proj.bias, m.up_proj.weight, m.up_proj.bias, m.down_proj.weight, m.down_proj.bias,
      a.q_norm?.weight ?? null, a.k_norm?.weight ?? null,
    ];
  }
}

class LayerList extends Module {
  readonly items: DecoderLayer[] = [];
  add(l: DecoderLayer): void {
    this.child(String(this.items.length), l);
    this.items.push(l);
  }
}

class EmbeddingTable extends Module {
  weight: Tensor;
  constructor(V: number, D: number, dtype: DType, init: Init) {
    super();
    this.weight = this.param('weight', fresh([V, D], dtype, init));
  }
  protected override onTensorReplaced(name: string, t: Tensor): void {
    if (name === 'weight') this.weight = t;
  }
}

/** `model.*` of the HF layout: embeddings, layers, final norm. */
export class DecoderBody extends Module {
  readonly embed_tokens: EmbeddingTable;
  readonly layers: LayerList;
  readonly norm: Norm;
  constructor(c: LMConfig, dtype: DType, init: Init) {
    super();
    this.embed_tokens = this.child('embed_tokens', new EmbeddingTable(c.vocabSize, c.hiddenSize, dtype, init));
    this.layers = this.child('layers', new LayerList());
    for (let i = 0; i < c.numLayers; i++) this.layers.add(new DecoderLayer(c, dtype, init));
    this.norm = this.child('norm', new Norm(c.hiddenSize, c.rmsNormEps, dtype, init));
  }
}

export interface ForwardOptions {
  /** (B, T) int64 positions; default `cache.length + t` (no padding). With left padding use `positionIdsFromMask`. */
  positionIds?: Tensor;
  /** Largest value in positionIds, when the caller knows it (saves a device sync). */
  maxPosition?: number;
  /** (B, Tk) keys that are real tokens (1/true) vs padding (0/false); Tk = cache.length + T. Default: all real. */
  attentionMask?: Tensor | null;
  /** Decoding cache: the T new keys/values are stored at cache.length, attention spans the cache too. */
  cache?: KVCache;
}

export interface CausalLMOptions {
  /** Compute and parameter dtype. Default float32. */
  dtype?: DType;
  /**
   * Where parameters, RoPE tables, KV caches and activations live: 'cpu' (default), 'cuda',
   * 'cuda:N'. A CUDA device needs an addon built against a CUDA libtorch and a visible GPU;
   * otherwise the constructor throws saying which is missing.
   */
  device?: Device;
  /** Default: random (std 0.02), as a newly initialised model. */
  init?: Init;
}

/**
 * The causal LM: `model` (DecoderBody) and `lm_head` (absent when tied to the embeddings).
 * `forward` returns the final-norm hidden states; `logits` applies lm_head, so callers can apply
 * it only where they need it (last positions when sampling, response chunks when scoring).
 */
export class CausalLM extends Module {
  readonly model: DecoderBody;
  readonly lm_head: Projection | null;
  /** Run each layer as one native call (default) or op by op from TypeScript. */
  fused = true;
  /**
   * Activation checkpointing per decoder layer (Chen et al. 2016; torch.utils.checkpoint): a
   * training forward keeps only each layer's input and the backward pass recomputes the layer,
   * trading one more forward for O(layers) instead of O(layers × activations) memory. Applies
   * to the fused layer with grad mode on and no KV cache; identical gradients.
   */
  gradientCheckpointing = false;
  #dtype: DType;
  #device: Device;
  #rope: RopeTable;
  #decodeCache: { key: string; weights: DecodeWeights } | null = null;

  constructor(readonly config: LMConfig, opts: CausalLMOptions = {}) {
    super();
    this.#dtype = checkDtype(opts.dtype ?? 'float32');
    this.#device = resolveDevice(opts.device, 'CausalLM device');
    const init = opts.init ?? { kind: 'random' };
    this.model = this.child('model', new DecoderBody(config, this.#dtype, init));
    this.lm_head = config.tieWordEmbeddings ? null : this.child('lm_head', new Projection(config.hiddenSize, config.vocabSize, false, this.#dtype, init));
    // parameters are made on the CPU (random init draws from the CPU generator, so a seed gives
    // the same model on every device), then moved
    if (this.#device !== 'cpu') super.to(this.#device);
    this.#rope = new RopeTable(config, this.#dtype, this.#device);
  }

  /** Compute and parameter dtype. */
  get dtype(): DType {
    return this.#dtype;
  }

  /** Device of the parameters ('cpu' or 'cuda:N'). */
  get device(): Device {
    return this.#device;
  }

  /** Casts the parameters (and the RoPE table) to another compute dtype, or moves them to another device. */
  override to(dtypeOrDevice: DType | Device): this {
    this.releaseDecodeWeights(); // new tensors replace the weights (a reused address must not match a stale copy)
    const isDevice = dtypeOrDevice === 'cpu' || dtypeOrDevice.startsWith('cuda');
    if (isDevice) this.#device = resolveDevice(dtypeOrDevice, 'CausalLM.to');
    else this.#dtype = checkDtype(dtypeOrDevice as DType);
    super.to(isDevice ? this.#device : dtypeOrDevice);
    this.#rope.dispose();
    this.#rope = new RopeTable(this.config, this.#dtype, this.#device);
    return this;
  }

  /** Module.setTensor, freeing the decode weights first: they were made from the tensor it replaces. */
  override setTensor(dotted: string, t: Tensor): void {
    this.releaseDecodeWeights();
    super.setTensor(dotted, t);
  }

  /** The (V, D) output projection: lm_head.weight, or the embedding table when tied. */
  get lmHeadWeight(): Tensor {
    return this.lm_head ? this.lm_head.weight : this.model.embed_tokens.weight;
  }

  /**
   * Final hidden states (B, T, D) of token ids (B, T). Differentiable when grad mode is on
   * (and no cache is used).
   */
  forward(inputIds: Tensor, opts: ForwardOptions = {}): Tensor {
    const [B, T] = inputIds.shape as [number, number];
    const dev = this.#device;
    const cache = opts.cache;
    const start = cache?.length ?? 0;
    if (cache && cache.rows !== B) throw new Error(`forward: batch has ${B} rows but the cache has ${cache.rows}`);
    const c = this.config;
    return torch.tidy(() => {
      // inputs made on the CPU (token ids, masks) follow the model to its device
      const onDev = (t: Tensor): Tensor => (sameDevice(t.device, dev) ? t : t.to(dev));
      inputIds = onDev(inputIds);
      let pos = opts.positionIds, maxPos = opts.maxPosition;
      if (!pos) {
        pos = torch.arange(start, start + T, 1, { device: dev }).unsqueeze(0).expand(B, T);
        maxPos = start + T - 1;
      } else {
        if (maxPos === undefined) maxPos = pos.max().item();
        pos = onDev(pos);
      }
      const [cos, sin] = this.#rope.lookup(pos, maxPos!); // (B, T, Dh)
      let keyMask: Tensor | null = null;
      if (opts.attentionMask) {
        keyMask = onDev(opts.attentionMask.dtype === 'bool' ? opts.attentionMask : opts.attentionMask.ne(0));
        if (keyMask.size(1) !== start + T) throw new Error(`forward: attentionMask covers ${keyMask.size(1)} keys, expected cache ${start} + ${T}`);
      }
      let x = torch.embedding(this.model.embed_tokens.weight, inputIds); // (B, T, D)
      for (const [l, layer] of this.model.layers.items.entries()) {
        // the 'cat' cache layout exists for measurement only and runs op by op
        if (!this.fused || cache?.mode === 'cat') {
          x = layerReference(layer, x, cos, sin, keyMask, cache, l);
          continue;
        }
        x = wrap(N.decoderLayer(
          x.handle, layer.nativeWeights().map((w) => (w ? w.handle : null)), cos.handle, sin.handle,
          keyMask ? keyMask.handle : null, cache ? cache.keys[l]!.handle : null, cache ? cache.values[l]!.handle : null,
          start, c.numHeads, c.numKvHeads, c.rmsNormEps, this.gradientCheckpointing,
        ));
      }
      cache?.advance(T);
      return this.model.norm.forward(x);
    });
  }

  /**
   * One decoding step for B rows that each have their own cache length (continuous batching), as
   * one native call (`decodeStep` in native/src/nn.cc): row r's input token `tokens[r]` sits at
   * position `cols[r]` of a sequence that starts at column 0 of the cache (rows [0, B) of `cache`,
   * mode 'prealloc'); its keys/values are written at column cols[r] and it attends to columns
   * 0 … cols[r]. Then the final norm, lm_head on these B positions only, and `sampleNext`'s draw
   * (rngStates: one generator state per row, as sampleNext's). weights: from `decodeWeights()`
   * (transposed copies where they are faster; its `threads` is the caller's to apply), else the
   * model's weights as they are.
   * tokens, cols: (B) int64 (CPU or the model's device). Returns [tokens (B) int64, logp (B)
   * float32] on the CPU. No grad. The cache's `length` is not used or advanced.
   */
  decodeStep(tokens: Tensor, cols: Tensor, maxCol: number, cache: KVCache, o: { temperature: number; topP: number; topK: number; greedy: boolean; rngStates?: Tensor[]; weights?: DecodeWeights }): [Tensor, Tensor] {
    if (cache.mode !== 'prealloc') throw new Error("decodeStep: needs a 'prealloc' KV cache");
    if (maxCol + 1 > cache.maxLength) throw new RangeError(`decodeStep: column ${maxCol} exceeds the cache capacity ${cache.maxLength}`);
    const c = this.config;
    const [cos, sin] = this.#rope.tables(maxCol + 1);
    const dw = o.weights;
    if (dw && dw.model !== this) throw new Error('decodeStep: these decode weights belong to another model');
    const weights = dw ? dw.layers : this.model.layers.items.flatMap((l) => l.nativeWeights().map((w) => (w ? w.handle : null)));
    const [a, b] = N.decodeStep(
      tokens.handle, cols.handle, maxCol + 1, this.model.embed_tokens.weight.handle, weights, this.model.norm.weight.handle, dw ? dw.lmHead : this.lmHeadWeight.handle,
      cos.handle, sin.handle, cache.keys.map((k) => k!.handle), cache.values.map((v) => v!.handle), c.numHeads, c.numKvHeads, c.rmsNormEps,
      o.temperature, o.topP, o.topK, o.greedy, o.rngStates ? o.rngStates.map((t) => t.handle) : null, dw ? dw.transposed : false,
      dw?.packed ? dw.packed.map((p) => (p ? p.handle : null)) : null, dw ? dw.packedRows : 0,
    );
    return [wrap(a), wrap(b)];
  }

  /**
   * The weights `decodeStep` reads, and the intra-op threads to decode with, prepared once for a
   * run of decoding steps (`generate` takes the model's `cachedDecodeWeights()`, made again after
   * the weights change; one made here is the caller's to dispose, and its copies do not follow
   * later changes to the weights). Measured on this project's 2-core
   * machine with libtorch 1.13 (README, "Decoding at few rows"):
   * - `transposed`: on the CPU, for float32/float64 weights, in builds without MKL (Debian's
   *   libtorch, whose BLAS here is OpenBLAS), when the linear weights and lm_head take at most
   *   `maxTransposeBytes` (default 256 MiB), they are copied transposed, (in, out) contiguous, so
   *   each few-row product runs as BLAS's no-transpose GEMM: 10–35% faster per product at the
   *   demo's and the ~25M bench shapes (LmLinear in native/src/nn.cc), for a second copy of those
   *   weights while decoding. Larger models (a 151,936-token lm_head alone is 545 MB), CUDA, half
   *   precision and MKL builds (the copies measured level or slower there) use the weights as
   *   they are. `transpose: true | false` overrides the choice (CPU only).
   * - `packed`: on the CPU, for float32 weights, where libtorch has XNNPACK's prepacked linear
   *   (`torch.packedLinearAvailable()`: Debian's 1.13, not PyPI's 2.x wheels), every linear weight
   *   of at least `packMinBytes` (default 8 MiB; lm_head first, then the layers', while the packed
   *   bytes stay within `maxPackBytes`, default 4 GiB) is also packed for XNNPACK (`PackedLinear`),
   *   and decoding steps of at most `packedRows` rows (default 32) use the packed copy. OpenBLAS
   *   re-packs the whole weight on every few-row product; XNNPACK reads its packed copy once:
   *   151,936 × 896 lm_head, 2 threads, 4 rows 50–53 → 15 ms, 16 rows 56–59 → 46–51 ms;
   *   4864 × 896, 4 rows 1.0–1.1 → 0.38–0.40 ms. Below 8 MiB the packed call's fixed cost (≈80 µs
   *   with 2 threads) outweighs it. `pack: true | false` overrides the choice (true throws
   *   where the op is missing or the weights are not float32 on the CPU; by default a failure to
   *   pack falls back to the weights as they are).
   * - `threads`: 1 when the weights take at most 8 MiB on the CPU and more than one intra-op
   *   thread is set: such steps' ops are too small to split, and OpenMP's fork and join on each
   *   op past ATen's grain size cost more than a second core saves (2 threads, 32 rows: D 64
   *   1.06 vs 1.54 ms a step, D 128 2.48 vs 3.60; D 256, 16 MB, 8.85 vs 8.65). null: leave the
   *   caller's count. `generate` sets it around its decoding loop and restores the count after.
   */
  decodeWeights(o: { maxTransposeBytes?: number; transpose?: boolean; pack?: boolean; packMinBytes?: number; maxPackBytes?: number; packedRows?: number } = {}): DecodeWeights {
    const linear = [1, 3, 5, 7, 10, 12, 14];
    const per = this.model.layers.items.map((l) => l.nativeWeights());
    const bytes = (t: Tensor) => t.numel * torch.DTYPE_BYTES[t.dtype];
    const total = per.reduce((a, w) => a + linear.reduce((b, i) => b + bytes(w[i]!), 0), 0) + bytes(this.lmHeadWeight);
    const cpu = this.#device === 'cpu';
    const transposed = cpu && (o.transpose ?? ((this.#dtype === 'float32' || this.#dtype === 'float64') && !torch.version().mkl && total <= (o.maxTransposeBytes ?? 256 * 2 ** 20)));
    const threads = cpu && total <= 8 * 2 ** 20 && torch.getNumThreads() > 1 ? 1 : null;
    const owned: Tensor[] = [];
    const packs: torch.PackedLinear[] = [];
    const free = () => {
      torch.dispose(owned);
      for (const p of packs) p.dispose();
    };
    const tr = (t: Tensor): Tensor => {
      const x = torch.tidy(() => noGrad(() => t.t().contiguous()));
      owned.push(x);
      return x;
    };
    try {
      const packable = cpu && this.#dtype === 'float32' && torch.packedLinearAvailable();
      if (o.pack && !packable) throw new Error(`decodeWeights: pack: true needs float32 weights on the CPU and a libtorch with XNNPACK's prepacked linear (this model: ${this.#dtype} on ${this.#device}; available: ${torch.packedLinearAvailable()})`);
      let packed: (torch.PackedLinear | null)[] | null = null;
      if (o.pack ?? packable) {
        // slot order as decodeStep reads it: each layer's q, k, v, o, gate, up, down, then lm_head
        const slots: [Tensor, Tensor | null][] = per.flatMap((w) => linear.map((i) => [w[i]!, w[i + 1] ?? null] as [Tensor, Tensor | null]));
        slots.push([this.lmHeadWeight, null]);
        packed = slots.map(() => null);
        const min = o.packMinBytes ?? 8 * 2 ** 20, max = o.maxPackBytes ?? 4 * 2 ** 30;
        let used = 0;
        const lmHeadFirst = [slots.length - 1, ...Array.from({ length: slots.length - 1 }, (_, j) => j)];
        try {
          for (const j of lmHeadFirst) {
            const [w, b] = slots[j]!;
            if (bytes(w) < min || used + bytes(w) + (b ? bytes(b) : 0) > max) continue;
            const p = torch.packLinear(w, b);
            packs.push(p);
            packed[j] = p;
            used += p.bytes;
          }
        } catch (e) {
          // the ops are registered but XNNPACK cannot pack here (it refuses to start on some CPUs):
          // decode on the weights as they are, unless packing was asked for
          if (o.pack) throw e;
          for (const p of packs.splice(0)) p.dispose();
        }
        if (!packs.length) packed = null;
      }
      const layers = per.flatMap((w) => w.map((t, i) => (t ? (transposed && linear.includes(i) ? tr(t) : t).handle : null)));
      const lmHead = (transposed ? tr(this.lmHeadWeight) : this.lmHeadWeight).handle;
      const packedRows = packed ? (o.packedRows ?? 32) : 0;
      return { model: this, layers, lmHead, transposed, packed, packedRows, threads, dispose: free };
    } catch (e) {
      free();
      throw e;
    }
  }

  /**
   * `decodeWeights(o)`, kept by the model and returned again while nothing it was made from has
   * changed: the same options and intra-op thread count, and every weight with the same storage and version counter (every
   * in-place write through libtorch bumps it, as do prime-ts's in-place collectives), so repeated
   * `generate` calls on unchanged weights (evaluation, several rollout micro-batches of one step)
   * pack and transpose once (the Qwen2.5-0.5B-shaped bench stack: 0.25 s a pack). The model owns
   * it: do not dispose it; `releaseDecodeWeights()` frees it (the trainer does after each rollout
   * phase), as do the next call after a change and `dispose()`. Weights written behind libtorch's
   * back (a raw pointer) need `releaseDecodeWeights()` first.
   */
  cachedDecodeWeights(o: Parameters<CausalLM['decodeWeights']>[0] = {}): DecodeWeights {
    const ws = [...this.model.layers.items.flatMap((l) => l.nativeWeights().filter((w): w is Tensor => w !== null)), this.lmHeadWeight];
    // the thread count too: `threads` and the packed pieces are chosen for it
    const key = `${JSON.stringify(o)}|${torch.getNumThreads()}|${N.versionStamp(ws.map((w) => w.handle))}`;
    if (this.#decodeCache?.key === key) return this.#decodeCache.weights;
    this.releaseDecodeWeights();
    const weights = this.decodeWeights(o);
    this.#decodeCache = { key, weights };
    return weights;
  }

  /** Frees the copies `cachedDecodeWeights` keeps (a no-op when there are none). */
  releaseDecodeWeights(): void {
    this.#decodeCache?.weights.dispose();
    this.#decodeCache = null;
  }

  /**
   * Logits (…, V) of hidden states (…, D): hidden · lmHeadWeightᵀ. weights (decodeWeights'):
   * a (rows, D) input of at most its `packedRows` rows uses its packed lm_head (no grad).
   */
  logits(hidden: Tensor, o: { weights?: DecodeWeights } = {}): Tensor {
    const packedHead = o.weights?.packed?.at(-1);
    if (packedHead && hidden.ndim === 2 && hidden.size(0) <= o.weights!.packedRows && hidden.dtype === 'float32' && !torch.isGradEnabled()) {
      if (o.weights!.model !== this) throw new Error('logits: these decode weights belong to another model');
      return packedHead.forward(hidden);
    }
    return torch.linear(hidden, this.lmHeadWeight);
  }

  override dispose(): void {
    this.releaseDecodeWeights();
    super.dispose();
    this.#rope.dispose();
  }
}

/** CausalLM.decodeWeights' result: native handles in decodeStep's argument order. */
export interface DecodeWeights {
  readonly model: CausalLM;
  /** L·18 handles (null for absent biases and norms); the linear ones transposed when `transposed`. */
  readonly layers: unknown[];
  readonly lmHead: unknown;
  /** Whether the linear weights and lm_head are (in, out) copies. */
  readonly transposed: boolean;
  /** 7·L + 1 packed weights or nulls (each layer's q, k, v, o, gate, up, down, then lm_head), or null: none packed. */
  readonly packed: (torch.PackedLinear | null)[] | null;
  /** Decoding steps of at most this many rows use the packed weights (0: none). */
  readonly packedRows: number;
  /** Intra-op threads to decode with (1 for small CPU models), or null for the caller's. */
  readonly threads: number | null;
  /** Frees the transposed and packed copies (a no-op otherwise). */
  dispose(): void;
}

/**
 * One decoder layer, op by op (the reference for the fused native call).
 * x: (B, T, D); cos/sin: (B, T, Dh); keyMask: (B, Tk) bool or null.
 */
export function layerReference(layer: DecoderLayer, x: Tensor, cos: Tensor, sin: Tensor, keyMask: Tensor | null, cache: KVCache | undefined, l: number): Tensor {
  const c = layer.config;
  const [B, T] = x.shape as [number, number];
  const a = layer.self_attn;
  const n1 = layer.input_layernorm.forward(x);
  const cs = cos.unsqueeze(1), sn = sin.unsqueeze(1); // (B, 1, T, Dh)
  let q = a.q_proj.forward(n1).view(B, T, c.numHeads, c.headDim); // (B, T, H, Dh)
  let k = a.k_proj.forward(n1).view(B, T, c.numKvHeads, c.headDim); // (B, T, Hkv, Dh)
  if (a.q_norm && a.k_norm) [q, k] = [a.q_norm.forward(q), a.k_norm.forward(k)];
  q = torch.applyRope(q.transpose(1, 2), cs, sn); // (B, H, T, Dh)
  k = torch.applyRope(k.transpose(1, 2), cs, sn); // (B, Hkv, T, Dh)
  let v = a.v_proj.forward(n1).view(B, T, c.numKvHeads, c.headDim).transpose(1, 2); // (B, Hkv, T, Dh)
  if (cache) [k, v] = cache.append(l, k, v); // (B, Hkv, Tk, Dh)
  const mask = keyMask ? keyMask.view(B, 1, 1, keyMask.size(1)) : null;
  const o = torch.scaledDotProductAttention(q, k, v, { mask, isCausal: T > 1 }); // (B, H, T, Dh)
  const h = x.add(a.o_proj.forward(o.transpose(1, 2).reshape(B, T, c.numHeads * c.headDim)));
  const n2 = layer.post_attention_layernorm.forward(h);
  const m = layer.mlp;
  return h.add(m.down_proj.forward(m.gate_proj.forward(n2).silu().mul(m.up_proj.forward(n2))));
}

function checkDtype(dtype: DType): DType {
  if (!['float32', 'float64', 'bfloat16'].includes(dtype))
    throw new Error(`CausalLM: compute dtype ${dtype} is not supported (float32, bfloat16 or float64; libtorch 1.13 has no float16 matmul on CPU — load float16 weights with dtype float32)`);
  return dtype;
}

function fresh(shape: number[], dtype: DType, init: Init): Tensor {
  if (init.kind === 'empty') return torch.empty(shape, { dtype });
  const std = init.std ?? 0.02;
  return noGrad(() => torch.empty(shape, { dtype }).normal_(0, std));
}

/**
 * Position ids of left-padded rows: the number of real tokens before each one,
 * cumsum(mask) − 1 clamped at 0 (padding gets position 0; it is never attended to).
 * attentionMask: (B, T) of 0/1 or bool → (B, T) int64.
 */
export function positionIdsFromMask(attentionMask: Tensor): Tensor {
  return torch.tidy(() => attentionMask.to('int64').cumsum(1).sub(1).clamp(0, null));
}

