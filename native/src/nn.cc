// Neural-network ops, attention, fused sampling and optimizer steps.
// Compositions live here (not in JS) when they would otherwise cost many JS->C++ crossings
// on hot paths: RMSNorm, RoPE, attention on libtorch < 2.0, per-token log-probs, sampling.
#include "common.h"
#include "packed.h"
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/custom_function.h>
#include <cmath>
#include <ATen/CPUGeneratorImpl.h>
#include <mutex>

namespace prime {

static Napi::Value softmax(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::softmax(T(info, 0), I(info, 1))); }
static Napi::Value logSoftmax(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::log_softmax(T(info, 0), I(info, 1))); }
// embedding(weight, ids, paddingIdx?)
static Napi::Value embedding(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::embedding(T(info, 0), T(info, 1), IsNull(info, 2) ? -1 : I(info, 2)));
}
static int64_t Reduction(const std::string& r) {
  if (r == "none") return at::Reduction::None;
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  throw std::invalid_argument("reduction must be 'none', 'mean' or 'sum', got '" + r + "'");
}
// crossEntropy(logits (N,C[,...]), target (N[,...]) int, weight?, reduction, ignoreIndex, labelSmoothing)
static Napi::Value crossEntropy(const Napi::CallbackInfo& info) {
  at::Tensor target = T(info, 1);
  if (target.scalar_type() != at::kLong && at::isIntegralType(target.scalar_type(), false)) target = target.to(at::kLong);
  return Wrap(info.Env(), at::cross_entropy_loss(T(info, 0), target, OptT(info, 2), Reduction(Str(info, 3)), I(info, 4), D(info, 5)));
}
static Napi::Value nllLoss(const Napi::CallbackInfo& info) {
  at::Tensor target = T(info, 1);
  if (target.scalar_type() != at::kLong) target = target.to(at::kLong);
  return Wrap(info.Env(), at::nll_loss_nd(T(info, 0), target, OptT(info, 2), Reduction(Str(info, 3)), I(info, 4)));
}
// layerNorm(x, normalizedShape, weight?, bias?, eps)
static Napi::Value layerNorm(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::layer_norm(T(info, 0), Ints(info, 1), OptT(info, 2), OptT(info, 3), D(info, 4)));
}
// rmsNorm(x, weight?, eps): weight * x / sqrt(mean(x^2, -1) + eps), statistics in float32 for
// half inputs (the Hugging Face Qwen2/Llama convention: normalize in fp32, cast back, scale).
static Napi::Value rmsNorm(const Napi::CallbackInfo& info) {
  at::Tensor x = T(info, 0);
  auto w = OptT(info, 1);
  double eps = D(info, 2);
  at::ScalarType dt = x.scalar_type();
  bool up = dt == at::kHalf || dt == at::kBFloat16;
  at::Tensor xf = up ? x.to(at::kFloat) : x;
  at::Tensor y = xf * at::rsqrt(xf.square().mean(-1, true) + eps);
  if (up) y = y.to(dt);
  return Wrap(info.Env(), w ? y * *w : y);
}
// dropout(x, p, train)
static Napi::Value dropout(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::dropout(T(info, 0), D(info, 1), B(info, 2))); }

// rope(x (..., T, Dh), cos (T, Dh) or broadcastable, sin): x*cos + rotate_half(x)*sin, with
// rotate_half(x) = cat(-x[..., Dh/2:], x[..., :Dh/2]) (the Hugging Face convention).
static Napi::Value rope(const Napi::CallbackInfo& info) {
  at::Tensor& x = T(info, 0);
  TORCH_CHECK(x.dim() > 0 && x.size(-1) % 2 == 0, "rope: the last dim of x must be even, got shape ", x.sizes());
  int64_t h = x.size(-1) / 2;
  at::Tensor rot = at::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
  return Wrap(info.Env(), x * T(info, 1) + rot * T(info, 2));
}

// sdpa(q (B,H,Tq,D), k (B,Hkv,Tk,D), v (B,Hkv,Tk,D), mask?, dropoutP, isCausal, scale?)
// mask: bool, true = may attend, broadcastable to (B,H,Tq,Tk); or float, added to the scores.
// Causal masking is bottom-right aligned: query i sits at absolute position Tk - Tq + i, which
// is what decoding with a KV cache needs. Grouped-query attention: Hkv divides H.
// Masked scores get the dtype's lowest finite value rather than -inf, so a fully masked row
// (a padding query) yields a uniform distribution instead of NaN.
static Napi::Value sdpa(const Napi::CallbackInfo& info) {
  at::Tensor q = T(info, 0), k = T(info, 1), v = T(info, 2);
  auto mask = OptT(info, 3);
  double p = D(info, 4);
  bool causal = B(info, 5);
  int64_t H = q.size(1), Hkv = k.size(1), Tq = q.size(2), Tk = k.size(2);
  if (H != Hkv) {
    if (H % Hkv != 0) throw std::invalid_argument("sdpa: query heads (" + std::to_string(H) + ") must be a multiple of key/value heads (" + std::to_string(Hkv) + ")");
    k = k.repeat_interleave(H / Hkv, 1);
    v = v.repeat_interleave(H / Hkv, 1);
  }
  double scale = IsNull(info, 6) ? 1.0 / std::sqrt(static_cast<double>(q.size(-1))) : D(info, 6);
  at::Tensor allowed;  // bool (…,Tq,Tk), true = attend
  if (causal) allowed = at::ones({Tq, Tk}, q.options().dtype(at::kBool)).tril(Tk - Tq);
  at::Tensor addMask;
  if (mask) {
    if (mask->scalar_type() == at::kBool) allowed = allowed.defined() ? at::logical_and(allowed, *mask) : *mask;
    else addMask = *mask;
  }
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale;  // (B,H,Tq,Tk)
  if (addMask.defined()) scores = scores + addMask;
  if (allowed.defined()) {
    double lowest = scores.scalar_type() == at::kDouble ? std::numeric_limits<double>::lowest()
                  : scores.scalar_type() == at::kFloat ? std::numeric_limits<float>::lowest() : -65504.0;
    scores = scores.masked_fill(at::logical_not(allowed), lowest);
  }
  at::Tensor attn = at::softmax(scores, -1);
  if (p > 0) attn = at::dropout(attn, p, true);
  return Wrap(info.Env(), at::matmul(attn, v));
}

// tokenLogprobs(logits (...,V), targets (...) int) -> (...): log softmax(logits)[target]
// computed as logits[target] - logsumexp(logits), in float32 at least, without keeping a
// full log-softmax tensor alive.
static Napi::Value tokenLogprobs(const Napi::CallbackInfo& info) {
  at::Tensor logits = T(info, 0);
  if (logits.scalar_type() == at::kHalf || logits.scalar_type() == at::kBFloat16) logits = logits.to(at::kFloat);
  at::Tensor tgt = T(info, 1).to(at::kLong).unsqueeze(-1);
  at::Tensor picked = logits.gather(-1, tgt).squeeze(-1);
  return Wrap(info.Env(), picked - at::logsumexp(logits, {-1}, false));
}
// entropyFromLogits(logits (...,V)) -> (...): H = −Σ p·log p with log p = log_softmax(z).
// Not logsumexp(z) − Σ p·z: that cancels catastrophically for large logits (3e-5 off at
// z = ±1000 in float32). log p is clamped to the lowest finite value so a −inf logit (a masked
// token, p = 0) adds 0·finite = 0 instead of 0·(−inf) = NaN, in the value and the gradient.
static Napi::Value entropyFromLogits(const Napi::CallbackInfo& info) {
  at::Tensor logits = T(info, 0);
  if (logits.scalar_type() == at::kHalf || logits.scalar_type() == at::kBFloat16) logits = logits.to(at::kFloat);
  at::Tensor logp = at::log_softmax(logits, -1);
  double lowest = logp.scalar_type() == at::kDouble ? std::numeric_limits<double>::lowest() : std::numeric_limits<float>::lowest();
  return Wrap(info.Env(), -(logp.exp() * logp.clamp_min(lowest)).sum(-1));
}

// Block size C of sampleNext's two-level draw for a vocabulary of V tokens: the divisor of V
// nearest √V within [√V/8, 8√V], for V ≥ 8192; otherwise V (one block: a flat cumulative sum).
static int64_t DrawBlock(int64_t V) {
  if (V < 8192) return V;
  double r = std::sqrt(static_cast<double>(V));
  int64_t best = V;
  for (int64_t c = std::max<int64_t>(2, static_cast<int64_t>(r / 8)); c <= static_cast<int64_t>(8 * r); c++)
    if (V % c == 0 && std::abs(std::log(c / r)) < std::abs(std::log(best / r))) best = c;
  return best;
}

// The draw of one token per row from logits (B,V); see sampleNext. u: (B,1) float64 uniforms in
// [0, 1), one per row (default: drawn from libtorch's global generator, in row order).
static std::vector<at::Tensor> SampleRows(const at::Tensor& logitsIn, double temp, double topP, int64_t topK, bool greedy,
                                          const c10::optional<at::Tensor>& uIn) {
  c10::NoGradGuard ng;
  at::Tensor logits = logitsIn.to(at::kFloat);
  at::Tensor tokens;
  if (greedy || temp <= 0) {
    tokens = logits.argmax(-1);
    at::Tensor logp = at::log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1);
    return {tokens, logp};
  }
  int64_t Bn = logits.size(0), V = logits.size(-1);
  at::Tensor scaled = temp == 1.0 ? logits : logits / temp;
  at::Tensor mx = std::get<0>(scaled.max(-1, true));                          // (B,1)
  at::Tensor e = (scaled - mx).exp_();                                         // (B,V)
  at::Tensor w = e;
  if (topK > 0 && topK < V) {
    at::Tensor kth = std::get<0>(at::topk(scaled, topK, -1)).narrow(-1, topK - 1, 1);
    w = w.masked_fill(scaled < kth, 0);
  }
  if (topP < 1.0) {
    auto sorted = at::sort(w, -1, true);
    at::Tensor sv = std::get<0>(sorted), si = std::get<1>(sorted);
    at::Tensor p = sv / sv.sum(-1, true);
    // drop a token when the mass before it already reaches topP (the first token always stays)
    at::Tensor drop = (p.cumsum(-1) - p) >= topP;
    w = w.masked_fill(at::zeros_like(drop).scatter(-1, si, drop), 0);
  }
  at::TensorOptions f64 = logits.options().dtype(at::kDouble);
  at::Tensor u0 = uIn ? uIn->to(f64).view({Bn, 1}) : at::rand({Bn, 1}, f64);
  // x kept below `total` also after rounding, so a draw never lands past the last token of nonzero weight
  auto below = [](const at::Tensor& x, const at::Tensor& total) { return at::minimum(x, at::nextafter(total, at::zeros_like(total))); };
  // The inverse-CDF draw in two levels, without a cumulative sum over the whole vocabulary (2.7
  // of sampleNext's 8.2 ms at B 16, V 151,936): the V/C blocks of C tokens by their mass, then
  // the tokens of the drawn block by the rest of u·Σw (one block, C = V, is the flat draw). A
  // block is drawn only when its cumulative mass rises past u (so it has weight), and the rest is
  // kept below the block's mass, so the token drawn has nonzero weight; exact arithmetic gives
  // the flat draw's token. Non-finite logits (NaN weights, an overflow) leave NaN masses, where
  // searchsorted answers past the end: ids are clamped into range; the log-prob is NaN, which the
  // caller reports (generate names the sample).
  int64_t C = DrawBlock(V), nb = V / C;
  at::Tensor wb = w.view({Bn, nb, C});
  at::Tensor mass = wb.sum(-1, false, at::kDouble);                            // (B,nb)
  at::Tensor cdfB = mass.cumsum(-1);                                           // (B,nb)
  at::Tensor total = cdfB.narrow(-1, nb - 1, 1);                               // (B,1)
  // log Σe: from the block masses when they are those of e (no top-k / top-p)
  bool restricted = (topK > 0 && topK < V) || topP < 1.0;
  at::Tensor logZ = (restricted ? e.sum(-1, true, at::kDouble) : total).log().to(at::kFloat) + mx;  // (B,1)
  at::Tensor u = below(u0 * total, total);
  at::Tensor b = at::searchsorted(cdfB, u, false, true).clamp_max_(nb - 1);    // (B,1)
  at::Tensor inBlock = nb == 1 ? w : wb.gather(1, b.view({Bn, 1, 1}).expand({Bn, 1, C})).view({Bn, C});
  at::Tensor cdfIn = inBlock.cumsum(-1, at::kDouble);                          // (B,C)
  at::Tensor inTotal = cdfIn.narrow(-1, C - 1, 1);
  // the rest of u past the blocks before b (the cumulative mass the search compared u against; 0 before block 0)
  at::Tensor before = at::constant_pad_nd(cdfB, {1, 0}, 0).gather(-1, b);
  at::Tensor rest = below((u - before).clamp_min(0), inTotal);
  at::Tensor j = at::searchsorted(cdfIn, rest, false, true).clamp_max_(C - 1);
  tokens = (b * C + j).squeeze(-1);
  at::Tensor logp = scaled.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) - logZ.squeeze(-1);
  return {tokens, logp};
}

// Uniforms (B,1) float64 on the CPU from per-row generators: row r takes the next draw of the CPU
// generator whose state is states[r] (a uint8 state tensor as getRngState returns), advanced in
// place — the draw `at::rand({1, 1}, float64)` makes on a generator in that state.
static at::Tensor RowUniforms(std::vector<at::Tensor>& states, int64_t Bn) {
  if (static_cast<int64_t>(states.size()) != Bn)
    throw std::invalid_argument("sample: " + std::to_string(states.size()) + " generator states for " + std::to_string(Bn) + " rows");
  at::Tensor u = at::empty({Bn, 1}, at::TensorOptions().dtype(at::kDouble));
  double* up = u.data_ptr<double>();
  auto gen = at::make_generator<at::CPUGeneratorImpl>();
  for (int64_t r = 0; r < Bn; r++) {
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(states[r]);
    }
    up[r] = at::rand({1}, gen, at::TensorOptions().dtype(at::kDouble)).item<double>();
    std::lock_guard<std::mutex> lock(gen.mutex());
    states[r].copy_(gen.get_state());
  }
  return u;
}

// sampleNext(logits (B,V), temperature, topP, topK, greedy, rngStates?) -> [tokens (B) int64, logp (B) float32]
// logp is the log-probability of the chosen token under softmax(logits / temperature) over the
// whole vocabulary (top-p / top-k only restrict which tokens can be drawn); this is the
// quantity a PPO learner recomputes with the same temperature. Greedy: argmax, logp under T=1.
// One exp pass serves both: e = exp(z − max z) gives logZ = max z + log Σe for the log-prob, and,
// with the tokens outside top-k / top-p zeroed, the weights of an inverse-CDF draw: the first
// token whose cumulative weight (float64) exceeds u·Σw, u ~ U[0, 1). That costs one cumsum and a
// binary search per row (for V ≥ 8192 with a block size from DrawBlock, two short ones: blocks,
// then tokens of the drawn block) instead of at::multinomial, several times slower on CPU.
// rngStates (B generator states): row r draws its u from generator state r (RowUniforms);
// otherwise from libtorch's global generator.
static Napi::Value sampleNext(const Napi::CallbackInfo& info) {
  c10::optional<at::Tensor> u;
  if (info.Length() > 5 && !IsNull(info, 5)) {
    auto states = Tensors(info, 5);
    u = RowUniforms(states, T(info, 0).size(0));
  }
  return WrapList(info.Env(), SampleRows(T(info, 0), D(info, 1), D(info, 2), I(info, 3), B(info, 4), u));
}

// rngStateForSeed(seed) -> uint8 state tensor of a CPU generator seeded as manualSeed(seed) seeds the global one.
static Napi::Value rngStateForSeed(const Napi::CallbackInfo& info) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(I(info, 0)));
  std::lock_guard<std::mutex> lock(gen.mutex());
  return Wrap(info.Env(), at::Tensor(gen.get_state()));
}

// ---------------------------------------------------------------- optimizers
// adamwStep(params, expAvg, expAvgSq, step, lr, beta1, beta2, eps, weightDecay)
// Decoupled weight decay (Loshchilov & Hutter): p <- p - lr*wd*p, then the Adam update
// m <- b1 m + (1-b1) g ; v <- b2 v + (1-b2) g^2 ;
// p <- p - lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps). Parameters without grad are skipped.
static Napi::Value adamwStep(const Napi::CallbackInfo& info) {
  c10::NoGradGuard ng;
  auto ps = Tensors(info, 0), ms = Tensors(info, 1), vs = Tensors(info, 2);
  TORCH_CHECK(ms.size() == ps.size() && vs.size() == ps.size(), "adamwStep: ", ps.size(), " params but ", ms.size(), " exp_avg and ", vs.size(), " exp_avg_sq");
  double step = D(info, 3), lr = D(info, 4), b1 = D(info, 5), b2 = D(info, 6), eps = D(info, 7), wd = D(info, 8);
  double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
  for (size_t i = 0; i < ps.size(); i++) {
    at::Tensor& p = ps[i];
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (wd != 0) p.mul_(1 - lr * wd);
    ms[i].lerp_(g, 1 - b1);
    vs[i].mul_(b2).addcmul_(g, g, 1 - b2);
    at::Tensor denom = (vs[i] / bc2).sqrt_().add_(eps);
    p.addcdiv_(ms[i], denom, -lr / bc1);
  }
  return info.Env().Undefined();
}
// sgdStep(params, momentumBufs|null, lr, momentum, weightDecay, nesterov)
static Napi::Value sgdStep(const Napi::CallbackInfo& info) {
  c10::NoGradGuard ng;
  auto ps = Tensors(info, 0);
  std::vector<at::Tensor> bufs;
  if (!IsNull(info, 1)) bufs = Tensors(info, 1);
  TORCH_CHECK(bufs.empty() || bufs.size() == ps.size(), "sgdStep: ", ps.size(), " params but ", bufs.size(), " momentum buffers");
  double lr = D(info, 2), mom = D(info, 3), wd = D(info, 4);
  bool nesterov = B(info, 5);
  for (size_t i = 0; i < ps.size(); i++) {
    at::Tensor& p = ps[i];
    if (!p.grad().defined()) continue;
    at::Tensor d = p.grad();
    if (wd != 0) d = d + wd * p;
    if (mom != 0 && !bufs.empty()) {
      bufs[i].mul_(mom).add_(d);
      d = nesterov ? d + mom * bufs[i] : bufs[i];
    }
    p.add_(d, -lr);
  }
  return info.Env().Undefined();
}
// gradNorm(params) -> total L2 norm of all grads (NaN/Inf propagate).
static double TotalNorm(const std::vector<at::Tensor>& ps) {
  std::vector<at::Tensor> norms;
  for (auto& p : ps)
    if (p.grad().defined()) norms.push_back(p.grad().detach().to(at::kFloat).norm(2));
  if (norms.empty()) return 0.0;
  return at::stack(norms).norm(2).item<double>();
}
static Napi::Value gradNorm(const Napi::CallbackInfo& info) {
  c10::NoGradGuard ng;
  return Napi::Number::New(info.Env(), TotalNorm(Tensors(info, 0)));
}
// clipGradNorm(params, maxNorm) -> total norm before clipping; scales grads by
// min(1, maxNorm / (norm + 1e-6)). A non-finite norm leaves the grads untouched.
static Napi::Value clipGradNorm(const Napi::CallbackInfo& info) {
  c10::NoGradGuard ng;
  auto ps = Tensors(info, 0);
  double maxNorm = D(info, 1);
  double total = TotalNorm(ps);
  double coef = maxNorm / (total + 1e-6);
  if (std::isfinite(total) && coef < 1)
    for (auto& p : ps)
      if (p.grad().defined()) p.mutable_grad().mul_(coef);
  return Napi::Number::New(info.Env(), total);
}

// ---------------------------------------------------------------- decoder layer (prime-ts/lm)
// One Qwen2/Llama decoder layer as a single call: ~25 ATen ops that, issued one by one from JS,
// cost more in crossings than in work on small decoding batches. Autograd records every op.
// Linear layers go through at::linear (libtorch's kernels; nothing home-made where libtorch has it).
// How decodeStep applies a layer's seven linear weights (slots 0–6: q, k, v, o, gate, up, down).
// transposed: w is given transposed, (in,out) contiguous (decodeStep's pre-transposed weights):
// x·w as BLAS's no-transpose product, which measured 10–35% faster than x·wᵀ for few-row
// decoding products in OpenBLAS (libtorch 1.13: (32,128)·(128,128) 24.7 → 18.1 µs, (32,512)·(512,512) 251 → 165 µs).
// packed[slot]: the weight (and bias) packed for XNNPACK (packed.cc), used for one-token rows
// while there are at most packedRows of them (2 threads, 4864 × 896: 4 rows 1.0 → 0.38 ms).
struct DecodeLinears {
  bool transposed = false;
  const PackedLinear* packed[7] = {};
  int64_t packedRows = 0;
};
// x2 (R,in) one token per row · w: the packed copy while R ≤ packedRows (float32), else the
// transposed copy (x·w) or the weight as it is (x·wᵀ); `fallback` replaces the last (lm_head's blocks).
template <class F>
static at::Tensor FewRowProduct(const at::Tensor& x2, const at::Tensor& w, const c10::optional<at::Tensor>& b, bool transposed,
                                const PackedLinear* pk, int64_t packedRows, F fallback) {
  if (pk && x2.size(0) <= packedRows && x2.scalar_type() == at::kFloat) return RunPacked(x2, *pk);
  if (transposed) return b ? at::addmm(*b, x2, w) : at::mm(x2, w);
  return fallback();
}
static at::Tensor LmLinear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b, const DecodeLinears& d = {}, int slot = -1) {
  // one token per row (decoding): the 2-D product (addmm / mm) directly; a (B,1,D) input goes
  // through matmul's folding on every call (a (12,1,64)·(176,64)ᵀ product measured 2.5× slower
  // that way in libtorch 1.13), for the same result
  if (x.dim() == 3 && x.size(1) == 1) {
    at::Tensor x2 = x.reshape({x.size(0), x.size(2)});
    const PackedLinear* pk = slot >= 0 ? d.packed[slot] : nullptr;
    return FewRowProduct(x2, w, b, d.transposed, pk, d.packedRows, [&] { return at::linear(x2, w, b); }).unsqueeze(1);
  }
  TORCH_CHECK(!d.transposed, "LmLinear: transposed weights serve one-token decoding only");
  return at::linear(x, w, b);
}

static at::Tensor LmRmsNorm(const at::Tensor& x, const at::Tensor& w, double eps) {
  at::ScalarType dt = x.scalar_type();
  bool up = dt == at::kHalf || dt == at::kBFloat16;
  at::Tensor xf = up ? x.to(at::kFloat) : x;
  at::Tensor y = xf * at::rsqrt(xf.square().mean(-1, true) + eps);
  return (up ? y.to(dt) : y) * w;
}
// x·cos + rotate_half(x)·sin, rotate_half(x) = cat(−x₂, x₁)
static at::Tensor LmRope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  int64_t h = x.size(-1) / 2;
  return x * cos + at::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1) * sin;
}
// Grouped-query attention without copying keys/values once per query head: the G = H/Hkv query
// heads that share a key/value head (query head j reads kv head j / G, HF's repeat_kv order)
// are stacked along the query axis, so one batched matmul serves them all.
// q (B,H,Tq,Dh); k, v (B,Hkv,Tk,Dh); keyMask (B,Tk) bool, true = a real token; causal masking
// is bottom-right aligned (query i sits at key position Tk − Tq + i). Masked scores get the
// dtype's lowest finite value, so a padding query (every key masked) yields a finite row.
// libtorch >= 2.5: the public scaled_dot_product_attention (fused CPU flash-attention kernel,
// grouped-query heads without copies: enable_gqa) serves the multi-query case (prefill,
// scoring, training) when g_use_sdpa is set (setAttentionKernel); decoding steps keep the
// elementwise path below. The mask is additive with the dtype's lowest finite value, as below,
// so a padding query still gets a finite (uniform) row.
#if PRIME_TORCH_AT_LEAST(2, 5)
#define PRIME_HAS_SDPA 1
#endif
static bool g_use_sdpa =
#ifdef PRIME_HAS_SDPA
    true;
#else
    false;
#endif
static double Lowest(at::ScalarType st) {
  return st == at::kDouble ? std::numeric_limits<double>::lowest()
       : st == at::kFloat ? std::numeric_limits<float>::lowest()
       : st == at::kBFloat16 ? static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest())
       : static_cast<double>(std::numeric_limits<c10::Half>::lowest());
}
// blocked (decoding, one query per row): (B,Tk) bool, true = a key the row must not see, used
// instead of keyMask (computed once per step rather than negated in every layer).
static at::Tensor LmAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const c10::optional<at::Tensor>& keyMask,
                              const at::Tensor& blocked = at::Tensor()) {
  int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), Dh = q.size(3), Hkv = k.size(1), Tk = k.size(2), G = H / Hkv;
#ifdef PRIME_HAS_SDPA
  if (g_use_sdpa && Tq > 1) {
    at::Tensor allowed = at::ones({Tq, Tk}, q.options().dtype(at::kBool)).tril(Tk - Tq);  // (Tq,Tk)
    if (keyMask) allowed = at::logical_and(allowed, keyMask->view({B, 1, 1, Tk}));        // (B,1,Tq,Tk)
    at::Tensor add = at::zeros(allowed.sizes(), q.options()).masked_fill_(at::logical_not(allowed), Lowest(q.scalar_type()));
    return at::scaled_dot_product_attention(q, k, v, add, 0.0, false, c10::nullopt, /*enable_gqa=*/H != Hkv);
  }
#endif
  at::Tensor qg = (q * (1.0 / std::sqrt(static_cast<double>(Dh)))).reshape({B, Hkv, G * Tq, Dh});
  // One query per row (decoding) over a short cache: the B·Hkv products are too small for a
  // GEMM each (bmm loops over them at ~2 µs apiece), so multiply and sum elementwise instead —
  // but only while each product (G·Tk·Dh multiply-adds) is small and there are many of them: the
  // elementwise form costs ~0.4 ns per multiply-add against ~2 µs per product for bmm (libtorch
  // 1.13, one thread: B 32, Hkv 2, G 2, Dh 32: Tk 20 57 vs 113 µs, Tk 100 190 vs 149 µs)
  bool small = Tq == 1 && G * Tk * Dh <= 4096 && B * Hkv >= 8;
  at::Tensor scores = small ? (qg.unsqueeze(3) * k.unsqueeze(2)).sum(-1).view({B, Hkv, G, Tq, Tk})   // (B,Hkv,G,1,Tk)
                            : at::matmul(qg, k.transpose(-2, -1)).view({B, Hkv, G, Tq, Tk});
  at::Tensor allowed;
  if (blocked.defined() && Tq == 1) {
    scores = scores.masked_fill(blocked.view({B, 1, 1, 1, Tk}), Lowest(scores.scalar_type()));
  } else {
    if (Tq > 1) allowed = at::ones({Tq, Tk}, q.options().dtype(at::kBool)).tril(Tk - Tq);
    if (keyMask) {
      at::Tensor km = keyMask->view({B, 1, 1, 1, Tk});
      allowed = allowed.defined() ? at::logical_and(allowed, km) : km;
    }
    if (allowed.defined()) scores = scores.masked_fill(at::logical_not(allowed), Lowest(scores.scalar_type()));
  }
  bool half = scores.scalar_type() == at::kHalf || scores.scalar_type() == at::kBFloat16;
  at::Tensor p = half ? at::softmax(scores, -1, at::kFloat).to(scores.scalar_type()) : at::softmax(scores, -1);
  if (small) return (p.view({B, Hkv, G, Tk, 1}) * v.unsqueeze(2)).sum(3).view({B, H, Tq, Dh});
  return at::matmul(p.view({B, Hkv, G * Tq, Tk}), v).view({B, H, Tq, Dh});
}
// One decoder layer on ATen tensors. w: the 18 weights (undefined = absent bias / norm).
//   h = x + o_proj(attn(rope(q), rope(k), v)) on rmsnorm(x);  y = h + down(silu(gate(n)) · up(n)), n = rmsnorm(h)
// With caches (B,Hkv,Tmax,Dh), the new keys/values are written at `start` and attention spans
// positions [0, start + T).
static c10::optional<at::Tensor> Opt(const at::Tensor& t) { return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt; }
static at::Tensor DecoderLayerImpl(const at::Tensor& x, const std::vector<at::Tensor>& w, const at::Tensor& cos, const at::Tensor& sin,
                                   const c10::optional<at::Tensor>& keyMask, const c10::optional<at::Tensor>& kCache,
                                   const c10::optional<at::Tensor>& vCache, int64_t start, int64_t H, int64_t Hkv, double eps,
                                   const at::Tensor& writeCols = at::Tensor(), int64_t span = 0, const at::Tensor& blocked = at::Tensor(),
                                   const DecodeLinears& dl = {}) {
  int64_t B = x.size(0), Tn = x.size(1);
  at::Tensor n1 = LmRmsNorm(x, w[0], eps);
  at::Tensor q = LmLinear(n1, w[1], Opt(w[2]), dl, 0).view({B, Tn, H, -1});    // (B,T,H,Dh)
  at::Tensor k = LmLinear(n1, w[3], Opt(w[4]), dl, 1).view({B, Tn, Hkv, -1});  // (B,T,Hkv,Dh)
  if (w[16].defined()) {
    q = LmRmsNorm(q, w[16], eps);
    k = LmRmsNorm(k, w[17], eps);
  }
  if (writeCols.defined()) {
    // decoding: sin comes signed, cat(−sin₁, sin₂), so rotate_half(x)·sin = swap_halves(x)·signed
    // sin, elementwise the same products (a sign flip is exact) in 4 ops instead of 7
    auto ropeSigned = [&](const at::Tensor& x) {
      int64_t h = x.size(-1) / 2;
      std::vector<int64_t> split(x.sizes().begin(), x.sizes().end() - 1);
      split.push_back(2);
      split.push_back(h);
      return x * cos + at::flip(x.view(split), {-2}).view(x.sizes()) * sin;
    };
    q = ropeSigned(q.transpose(1, 2));  // (B,H,1,Dh)
    k = ropeSigned(k.transpose(1, 2));  // (B,Hkv,1,Dh)
  } else {
    q = LmRope(q.transpose(1, 2), cos, sin);  // (B,H,T,Dh)
    k = LmRope(k.transpose(1, 2), cos, sin);  // (B,Hkv,T,Dh)
  }
  at::Tensor v = LmLinear(n1, w[5], Opt(w[6]), dl, 2).view({B, Tn, Hkv, -1}).transpose(1, 2);  // (B,Hkv,T,Dh)
  if (kCache && vCache && writeCols.defined()) {
    // one new token per row, written at that row's own column (caches (≥B,Hkv,Tmax,Dh): rows [0,B) are used)
    at::Tensor idx = writeCols.view({B, 1, 1, 1}).expand({B, Hkv, 1, k.size(3)});
    at::Tensor kc = kCache->narrow(0, 0, B), vc = vCache->narrow(0, 0, B);
    kc.scatter_(2, idx, k);
    vc.scatter_(2, idx, v);
    k = kc.narrow(2, 0, span);
    v = vc.narrow(2, 0, span);
  } else if (kCache && vCache) {
    kCache->narrow(2, start, Tn).copy_(k);
    vCache->narrow(2, start, Tn).copy_(v);
    k = kCache->narrow(2, 0, start + Tn);
    v = vCache->narrow(2, 0, start + Tn);
  }
  at::Tensor o = LmAttention(q, k, v, keyMask, blocked);                                // (B,H,T,Dh)
  at::Tensor h = x + LmLinear(o.transpose(1, 2).reshape({B, Tn, -1}), w[7], Opt(w[8]), dl, 3);  // (B,T,D)
  at::Tensor n2 = LmRmsNorm(h, w[9], eps);
  at::Tensor m = at::silu(LmLinear(n2, w[10], Opt(w[11]), dl, 4)) * LmLinear(n2, w[12], Opt(w[13]), dl, 5);  // (B,T,I)
  return h + LmLinear(m, w[14], Opt(w[15]), dl, 6);
}

// Activation (gradient) checkpointing of one layer (Chen et al. 2016, "Training Deep Nets with
// Sublinear Memory Cost"; torch.utils.checkpoint): the forward keeps only its inputs, the
// backward runs the layer again with grad enabled and differentiates that. The layer has no
// randomness (no dropout), so the recomputation is the same function.
struct CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
  // Tensor inputs must all be defined (autograd records each one's device): keyMask is all-true
  // when there is none, and only the present weights are passed, with their slots in the 18.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                            const at::Tensor& keyMask, at::TensorList present, std::vector<int64_t> slots, int64_t H, int64_t Hkv, double eps,
                            bool hasMask) {
    std::vector<at::Tensor> saved = {x, cos, sin, keyMask};
    saved.insert(saved.end(), present.begin(), present.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["slots"] = c10::IValue(slots);
    ctx->saved_data["H"] = H;
    ctx->saved_data["Hkv"] = Hkv;
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["hasMask"] = hasMask;
    return DecoderLayerImpl(x, Unpack(present.vec(), slots), cos, sin, hasMask ? Opt(keyMask) : c10::nullopt, c10::nullopt, c10::nullopt, 0, H, Hkv, eps);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list gradOut) {
    auto saved = ctx->get_saved_variables();
    std::vector<int64_t> slots = ctx->saved_data["slots"].toIntVector();
    int64_t H = ctx->saved_data["H"].toInt(), Hkv = ctx->saved_data["Hkv"].toInt();
    double eps = ctx->saved_data["eps"].toDouble();
    bool hasMask = ctx->saved_data["hasMask"].toBool();
    at::AutoGradMode on(true);
    // leaves for the recomputation: x and every weight that wants a gradient
    std::vector<at::Tensor> present(saved.begin() + 4, saved.end());
    at::Tensor x = saved[0].detach().requires_grad_(saved[0].requires_grad());
    std::vector<at::Tensor> inputs;
    std::vector<size_t> pos;  // index in the forward's flattened inputs of each entry of `inputs`
    if (x.requires_grad()) inputs.push_back(x), pos.push_back(0);
    for (size_t i = 0; i < present.size(); i++) {
      if (present[i].requires_grad()) {
        present[i] = present[i].detach().requires_grad_(true);
        inputs.push_back(present[i]);
        pos.push_back(4 + i);
      }
    }
    // one entry per forward input: x, cos, sin, keyMask, the present weights, then the 6 non-tensors
    torch::autograd::variable_list out(4 + present.size() + 6);
    if (inputs.empty()) return out;
    at::Tensor y = DecoderLayerImpl(x, Unpack(present, slots), saved[1], saved[2], hasMask ? Opt(saved[3]) : c10::nullopt, c10::nullopt, c10::nullopt, 0, H, Hkv, eps);
    auto grads = torch::autograd::grad({y}, inputs, {gradOut[0]}, /*retain_graph=*/false, /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t i = 0; i < grads.size(); i++) out[pos[i]] = grads[i];
    return out;
  }
  static std::vector<at::Tensor> Unpack(const std::vector<at::Tensor>& present, const std::vector<int64_t>& slots) {
    std::vector<at::Tensor> w(18);
    for (size_t i = 0; i < slots.size(); i++) w[slots[i]] = present[i];
    return w;
  }
};

// The 18 weights of layer at offset `off` of a JS array (null = absent bias / norm), checked.
static std::vector<at::Tensor> LayerWeights(Napi::Env env, Napi::Array wa, uint32_t off, const char* who) {
  std::vector<at::Tensor> w(18);
  for (uint32_t k = 0; k < 18; k++) {
    Napi::Value e = wa.Get(off + k);
    if (e.IsNull() || e.IsUndefined()) continue;
    if (!e.IsObject() || !e.As<Napi::Object>().InstanceOf(NTensor::constructor->Value()))
      throw Napi::TypeError::New(env, std::string(who) + ": weights must be an array of 18 tensors or nulls per layer");
    NTensor* h = NTensor::Unwrap(e.As<Napi::Object>());
    if (h->released) throw Napi::Error::New(env, "tensor used after dispose()");
    w[k] = h->tensor;
  }
  for (int k : {0, 1, 3, 5, 7, 9, 10, 12, 14})
    if (!w[k].defined()) throw Napi::TypeError::New(env, std::string(who) + ": weight " + std::to_string(off + k) + " is required");
  if (w[16].defined() != w[17].defined()) throw std::invalid_argument(std::string(who) + ": q_norm and k_norm come together");
  return w;
}

// decoderLayer(x (B,T,D), weights[18], cos (B,T,Dh), sin (B,T,Dh), keyMask (B,Tk) bool | null,
//              kCache | null, vCache | null, cacheStart, H, Hkv, eps, checkpoint?) -> (B,T,D)
// weights: [input_layernorm, q.w, q.b, k.w, k.b, v.w, v.b, o.w, o.b, post_attention_layernorm,
//           gate.w, gate.b, up.w, up.b, down.w, down.b, q_norm.w, k_norm.w], null for an absent bias
//           or norm (q_norm/k_norm: Qwen3's per-head RMSNorm over Dh of q and k before RoPE).
// checkpoint: recompute the layer in the backward pass instead of keeping its activations
// (only with grad mode on and no cache; otherwise ignored).
static Napi::Value decoderLayer(const Napi::CallbackInfo& info) {
  at::Tensor x = T(info, 0);
  if (!info[1].IsArray() || info[1].As<Napi::Array>().Length() != 18)
    throw Napi::TypeError::New(info.Env(), "decoderLayer: weights must be an array of 18 tensors or nulls");
  std::vector<at::Tensor> w = LayerWeights(info.Env(), info[1].As<Napi::Array>(), 0, "decoderLayer");
  at::Tensor cos = T(info, 2).unsqueeze(1), sin = T(info, 3).unsqueeze(1);  // (B,1,T,Dh)
  auto keyMask = OptT(info, 4);
  auto kCache = OptT(info, 5), vCache = OptT(info, 6);
  int64_t start = I(info, 7), H = I(info, 8), Hkv = I(info, 9);
  double eps = D(info, 10);
  bool checkpoint = info.Length() > 11 && B(info, 11);
  if (H % Hkv != 0) throw std::invalid_argument("decoderLayer: H must be a multiple of Hkv");
  if (checkpoint && c10::GradMode::is_enabled() && !kCache) {
    std::vector<at::Tensor> present;
    std::vector<int64_t> slots;
    for (int64_t k = 0; k < 18; k++)
      if (w[k].defined()) present.push_back(w[k]), slots.push_back(k);
    at::Tensor km = keyMask ? *keyMask : at::ones({x.size(0), x.size(1)}, x.options().dtype(at::kBool));
    return Wrap(info.Env(), CheckpointedLayer::apply(x, cos, sin, km, at::TensorList(present), slots, H, Hkv, eps, keyMask.has_value()));
  }
  return Wrap(info.Env(), DecoderLayerImpl(x, w, cos, sin, keyMask, kCache, vCache, start, H, Hkv, eps));
}

// h (B,D) · w (V,D)ᵀ over blocks of 4096 vocabulary rows, each written into its columns of the
// (B,V) result. For a large lm_head on the CPU this measured 7–15% faster than one product
// (OpenBLAS, 2 threads, 151,936 × 896: 1 row 44.6 → 37.5 ms, 4 rows 56.5 → 50.4, 16 rows
// 62.8 → 58.4; medians of four interleaved rounds); at 16,384 × 512 it was no faster, so
// decodeStep uses it for lm_head weights of 64 MiB and more. Each block is the same dot products.
static at::Tensor BlockedLmHead(const at::Tensor& h, const at::Tensor& w) {
  const int64_t C = 4096, V = w.size(0);
  at::Tensor out = at::empty({h.size(0), V}, h.options());
  for (int64_t s = 0; s < V; s += C) {
    int64_t c = std::min(C, V - s);
    at::Tensor part = out.narrow(1, s, c);
    at::mm_out(part, h, w.narrow(0, s, c).t());
  }
  return out;
}

// decodeStep(tokens (B) int64, cols (B) int64, span, embedW (V,D), layerWeights (L·18 array, as decoderLayer's),
//            normW (D), lmHeadW (V,D), cosTable (P,Dh), sinTable (P,Dh), kCaches[L], vCaches[L], H, Hkv, eps,
//            temperature, topP, topK, greedy, rngStates | null, transposed?, packed?, packedRows?)
//            -> [tokens (B) int64, logp (B) float32], on the CPU
// One decoding step of the whole model for B rows, each with its own cache length (continuous
// batching): row r's input token sits at position cols[r] (= the number of tokens before it in
// its sequence, which start at column 0 of the caches, (≥B,Hkv,Tmax,Dh), rows [0,B) in use); its
// keys/values are written at column cols[r] and it attends to columns 0 … cols[r]. span = max(cols) + 1.
// Then the final norm, lm_head on these B positions only, and the draw of sampleNext.
// transposed: the seven linear weights of every layer and lmHeadW come as (in,out) contiguous
// copies (CausalLM.decodeWeights, kept by the model while its weights are unchanged): see LmLinear.
// packed (null, or 7·L + 1 packLinear handles or nulls: each layer's q, k, v, o, gate, up, down,
// then lm_head), packedRows: steps of at most packedRows rows apply those weights packed for
// XNNPACK (packed.cc; float32), larger steps and null entries the weights as above.
static Napi::Value decodeStep(const Napi::CallbackInfo& info) {
  c10::NoGradGuard ng;
  at::Tensor embedW = T(info, 3);
  auto dev = embedW.device();
  at::Tensor tokens = T(info, 0).to(dev, at::kLong), cols = T(info, 1).to(dev, at::kLong);
  int64_t span = I(info, 2);
  if (!info[4].IsArray()) throw Napi::TypeError::New(info.Env(), "decodeStep: layerWeights must be an array");
  Napi::Array wa = info[4].As<Napi::Array>();
  auto kC = Tensors(info, 9), vC = Tensors(info, 10);
  size_t L = kC.size();
  if (vC.size() != L || wa.Length() != 18 * L)
    throw std::invalid_argument("decodeStep: " + std::to_string(wa.Length()) + " layer weights, " + std::to_string(L) + " key and " + std::to_string(vC.size()) + " value caches");
  int64_t Bn = tokens.numel(), H = I(info, 11), Hkv = I(info, 12);
  double eps = D(info, 13);
  TORCH_CHECK(cols.numel() == Bn, "decodeStep: ", Bn, " tokens but ", cols.numel(), " cache columns");
  TORCH_CHECK(L == 0 || (kC[0].size(0) >= Bn && span <= kC[0].size(2)), "decodeStep: ", Bn, " rows and span ", span, " do not fit caches of shape ", L ? kC[0].sizes() : at::IntArrayRef{});
  at::Tensor cosT = T(info, 7), sinT = T(info, 8);
  int64_t Dh = cosT.size(1);
  at::Tensor cs = cosT.index_select(0, cols).view({Bn, 1, 1, Dh}), sn = sinT.index_select(0, cols).view({Bn, 1, 1, Dh});
  sn = at::cat({-sn.narrow(-1, 0, Dh / 2), sn.narrow(-1, Dh / 2, Dh / 2)}, -1);  // signed: see DecoderLayerImpl
  at::Tensor blocked = at::arange(span, cols.options()).view({1, span}) > cols.view({Bn, 1});  // (Bn,span): keys past the row's own
  c10::optional<at::Tensor> keyMask;
  bool wT = info.Length() > 19 && !IsNull(info, 19) && B(info, 19);
  // packed: 7·L + 1 handles (each layer's q, k, v, o, gate, up, down, then lm_head) or nulls
  std::vector<std::shared_ptr<PackedLinear>> packed;
  if (!IsNull(info, 20)) {
    if (!info[20].IsArray() || info[20].As<Napi::Array>().Length() != 7 * L + 1)
      throw Napi::TypeError::New(info.Env(), "decodeStep: packed must be an array of " + std::to_string(7 * L + 1) + " packed linears or nulls");
    Napi::Array pa = info[20].As<Napi::Array>();
    for (uint32_t i = 0; i < pa.Length(); i++) packed.push_back(pa.Get(i).IsNull() ? nullptr : PackedValue(info.Env(), pa.Get(i)));
  }
  int64_t packedRows = packed.empty() || IsNull(info, 21) ? 0 : I(info, 21);
  at::Tensor x = at::embedding(embedW, tokens.view({Bn, 1}));  // (Bn,1,D)
  for (size_t l = 0; l < L; l++) {
    std::vector<at::Tensor> w = LayerWeights(info.Env(), wa, static_cast<uint32_t>(18 * l), "decodeStep");
    DecodeLinears dl{wT, {}, packedRows};
    for (size_t j = 0; j < 7 && !packed.empty(); j++) dl.packed[j] = packed[7 * l + j].get();
    x = DecoderLayerImpl(x, w, cs, sn, keyMask, kC[l], vC[l], 0, H, Hkv, eps, cols, span, blocked, dl);
  }
  at::Tensor h = LmRmsNorm(x.view({Bn, -1}), T(info, 5), eps);
  at::Tensor lmW = T(info, 6);
  at::Tensor logits = FewRowProduct(h, lmW, c10::nullopt, wT, packed.empty() ? nullptr : packed.back().get(), packedRows, [&] {
    return dev.is_cpu() && lmW.numel() * lmW.element_size() >= (int64_t(64) << 20) ? BlockedLmHead(h, lmW) : at::linear(h, lmW);
  });  // (Bn,V)
  c10::optional<at::Tensor> u;
  if (info.Length() > 18 && !IsNull(info, 18)) {
    auto states = Tensors(info, 18);
    u = RowUniforms(states, Bn);
  }
  auto out = SampleRows(logits, D(info, 14), D(info, 15), I(info, 16), B(info, 17), u);
  return WrapList(info.Env(), {out[0].to(at::kCPU), out[1].to(at::kCPU)});
}

// setAttentionKernel('sdpa' | 'composite') -> the kernel now in use. 'sdpa' needs libtorch >= 2.5.
static Napi::Value setAttentionKernel(const Napi::CallbackInfo& info) {
  if (!IsNull(info, 0)) {
    std::string k = Str(info, 0);
    if (k != "sdpa" && k != "composite") throw std::invalid_argument("setAttentionKernel: expected 'sdpa' or 'composite', got '" + k + "'");
#ifndef PRIME_HAS_SDPA
    if (k == "sdpa") throw std::runtime_error("setAttentionKernel: 'sdpa' needs libtorch >= 2.5 (this is " TORCH_VERSION ")");
#endif
    g_use_sdpa = k == "sdpa";
  }
  return Napi::String::New(info.Env(), g_use_sdpa ? "sdpa" : "composite");
}

void InitNN(Napi::Env env, Napi::Object exports) {
#define E(name) Export<name>(env, exports, #name);
  E(softmax) E(logSoftmax) E(embedding) E(crossEntropy) E(nllLoss) E(layerNorm) E(rmsNorm)
  E(dropout) E(rope) E(sdpa) E(tokenLogprobs) E(entropyFromLogits) E(sampleNext)
  E(adamwStep) E(sgdStep) E(gradNorm) E(clipGradNorm) E(decoderLayer) E(setAttentionKernel) E(decodeStep) E(rngStateForSeed)
#undef E
}

}  // namespace prime
