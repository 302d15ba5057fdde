// Elementwise, reduction, linear-algebra, shape and indexing ops: thin calls into ATen,
// which records autograd for every one of them.
#include "common.h"

namespace prime {

// ---- unary: f(t)
#define UNARY_OPS(X)                                                                         \
  X(neg) X(abs) X(sign) X(exp) X(log) X(log1p) X(log2) X(expm1) X(sqrt) X(rsqrt) X(sigmoid) \
  X(tanh) X(relu) X(sin) X(cos) X(floor) X(ceil) X(round) X(reciprocal) X(square) X(erf)    \
  X(isnan) X(isfinite) X(isinf) X(logical_not) X(bitwise_not) X(trunc) X(clone) X(detach)  \
  X(contiguous_) X(silu) X(softplus) X(logsigmoid) X(gelu) X(gelu_tanh) X(t_)

static inline at::Tensor u_neg(const at::Tensor& t) { return at::neg(t); }
static inline at::Tensor u_abs(const at::Tensor& t) { return at::abs(t); }
static inline at::Tensor u_sign(const at::Tensor& t) { return at::sign(t); }
static inline at::Tensor u_exp(const at::Tensor& t) { return at::exp(t); }
static inline at::Tensor u_log(const at::Tensor& t) { return at::log(t); }
static inline at::Tensor u_log1p(const at::Tensor& t) { return at::log1p(t); }
static inline at::Tensor u_log2(const at::Tensor& t) { return at::log2(t); }
static inline at::Tensor u_expm1(const at::Tensor& t) { return at::expm1(t); }
static inline at::Tensor u_sqrt(const at::Tensor& t) { return at::sqrt(t); }
static inline at::Tensor u_rsqrt(const at::Tensor& t) { return at::rsqrt(t); }
static inline at::Tensor u_sigmoid(const at::Tensor& t) { return at::sigmoid(t); }
static inline at::Tensor u_tanh(const at::Tensor& t) { return at::tanh(t); }
static inline at::Tensor u_relu(const at::Tensor& t) { return at::relu(t); }
static inline at::Tensor u_sin(const at::Tensor& t) { return at::sin(t); }
static inline at::Tensor u_cos(const at::Tensor& t) { return at::cos(t); }
static inline at::Tensor u_floor(const at::Tensor& t) { return at::floor(t); }
static inline at::Tensor u_ceil(const at::Tensor& t) { return at::ceil(t); }
static inline at::Tensor u_round(const at::Tensor& t) { return at::round(t); }
static inline at::Tensor u_reciprocal(const at::Tensor& t) { return at::reciprocal(t); }
static inline at::Tensor u_square(const at::Tensor& t) { return at::square(t); }
static inline at::Tensor u_erf(const at::Tensor& t) { return at::erf(t); }
static inline at::Tensor u_isnan(const at::Tensor& t) { return at::isnan(t); }
static inline at::Tensor u_isfinite(const at::Tensor& t) { return at::isfinite(t); }
static inline at::Tensor u_isinf(const at::Tensor& t) { return at::isinf(t); }
static inline at::Tensor u_logical_not(const at::Tensor& t) { return at::logical_not(t); }
static inline at::Tensor u_bitwise_not(const at::Tensor& t) { return at::bitwise_not(t); }
static inline at::Tensor u_trunc(const at::Tensor& t) { return at::trunc(t); }
static inline at::Tensor u_clone(const at::Tensor& t) { return t.clone(); }
static inline at::Tensor u_detach(const at::Tensor& t) { return t.detach(); }
static inline at::Tensor u_contiguous_(const at::Tensor& t) { return t.contiguous(); }
static inline at::Tensor u_silu(const at::Tensor& t) { return at::silu(t); }
static inline at::Tensor u_softplus(const at::Tensor& t) { return at::softplus(t); }
static inline at::Tensor u_logsigmoid(const at::Tensor& t) { return at::log_sigmoid(t); }
static inline at::Tensor u_gelu(const at::Tensor& t) { return at::gelu(t); }
static inline at::Tensor u_gelu_tanh(const at::Tensor& t) { return at::gelu(t, "tanh"); }
static inline at::Tensor u_t_(const at::Tensor& t) { return t.t(); }

#define DEF_UNARY(name) \
  static Napi::Value op_##name(const Napi::CallbackInfo& info) { return Wrap(info.Env(), u_##name(T(info, 0))); }
UNARY_OPS(DEF_UNARY)

// ---- binary with broadcasting and type promotion: f(a, b); either side may be a JS scalar.
#define BINARY_OPS(X)                                                                      \
  X(add) X(sub) X(mul) X(div) X(pow) X(minimum) X(maximum) X(eq) X(ne) X(lt) X(le) X(gt)  \
  X(ge) X(logical_and) X(logical_or) X(logical_xor) X(remainder) X(floor_divide) X(atan2) \
  X(fmod) X(bitwise_and) X(bitwise_or)

#define DEF_BINARY(name)                                                  \
  static Napi::Value op_##name(const Napi::CallbackInfo& info) {         \
    if (!info[0].IsObject() && !info[1].IsObject())                       \
      throw Napi::TypeError::New(info.Env(), #name ": needs at least one tensor"); \
    return Wrap(info.Env(), at::name(TorS(info, 0), TorS(info, 1)));      \
  }
BINARY_OPS(DEF_BINARY)

// add(a, b, alpha) = a + alpha * b ; div with rounding mode
static Napi::Value addScaled(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::add(TorS(info, 0), TorS(info, 1), S(info, 2)));
}
static Napi::Value divMode(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::div(TorS(info, 0), TorS(info, 1), Str(info, 2)));
}
// where(cond, a, b)
static Napi::Value where(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::where(T(info, 0), TorS(info, 1), TorS(info, 2)));
}
// clamp(t, min?, max?)
static Napi::Value clamp(const Napi::CallbackInfo& info) {
  at::Tensor& t = T(info, 0);
  if (info[1].IsObject() || info[2].IsObject())
    return Wrap(info.Env(), at::clamp(t, OptT(info, 1), OptT(info, 2)));
  return Wrap(info.Env(), at::clamp(t, OptS(info, 1), OptS(info, 2)));
}
// lerp(a, b, w)
static Napi::Value lerp(const Napi::CallbackInfo& info) {
  if (info[2].IsObject()) return Wrap(info.Env(), at::lerp(T(info, 0), T(info, 1), T(info, 2)));
  return Wrap(info.Env(), at::lerp(T(info, 0), T(info, 1), S(info, 2)));
}
static Napi::Value allclose(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::allclose(T(info, 0), T(info, 1), D(info, 2), D(info, 3), B(info, 4)));
}
static Napi::Value equal(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::equal(T(info, 0), T(info, 1)));
}

// ---- reductions. dims null = all; optional output dtype for sum/mean.
static c10::optional<at::ScalarType> OptDtype(const Napi::CallbackInfo& info, size_t i) {
  if (IsNull(info, i)) return c10::nullopt;
  return ParseDtype(Str(info, i));
}
// sum(t, dims?, keepdim, dtype?)
static Napi::Value sum(const Napi::CallbackInfo& info) {
  at::Tensor& t = T(info, 0);
  auto dims = OptInts(info, 1);
  if (!dims) return Wrap(info.Env(), at::sum(t, OptDtype(info, 3)));
  return Wrap(info.Env(), at::sum(t, *dims, B(info, 2), OptDtype(info, 3)));
}
static Napi::Value mean(const Napi::CallbackInfo& info) {
  at::Tensor& t = T(info, 0);
  auto dims = OptInts(info, 1);
  if (!dims) return Wrap(info.Env(), at::mean(t, OptDtype(info, 3)));
  return Wrap(info.Env(), at::mean(t, *dims, B(info, 2), OptDtype(info, 3)));
}
static Napi::Value prod(const Napi::CallbackInfo& info) {
  at::Tensor& t = T(info, 0);
  if (IsNull(info, 1)) return Wrap(info.Env(), at::prod(t));
  return Wrap(info.Env(), at::prod(t, I(info, 1), B(info, 2)));
}
// max/min(t) -> value; maxDim/minDim(t, dim, keepdim) -> [values, indices]
static Napi::Value max(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::max(T(info, 0))); }
static Napi::Value min(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::min(T(info, 0))); }
static Napi::Value maxDim(const Napi::CallbackInfo& info) {
  auto r = at::max(T(info, 0), I(info, 1), B(info, 2));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
static Napi::Value minDim(const Napi::CallbackInfo& info) {
  auto r = at::min(T(info, 0), I(info, 1), B(info, 2));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
static c10::optional<int64_t> OptI(const Napi::CallbackInfo& info, size_t i) {
  if (IsNull(info, i)) return c10::nullopt;
  return I(info, i);
}
static Napi::Value argmax(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::argmax(T(info, 0), OptI(info, 1), B(info, 2))); }
static Napi::Value argmin(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::argmin(T(info, 0), OptI(info, 1), B(info, 2))); }
static Napi::Value logsumexp(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::logsumexp(T(info, 0), Ints(info, 1), B(info, 2)));
}
// var/std(t, dims?, correction, keepdim)
static Napi::Value var(const Napi::CallbackInfo& info) {
  auto dims = OptInts(info, 1);
  return Wrap(info.Env(), at::var(T(info, 0), dims ? at::OptionalIntArrayRef(*dims) : at::OptionalIntArrayRef(), I(info, 2), B(info, 3)));
}
static Napi::Value std_(const Napi::CallbackInfo& info) {
  auto dims = OptInts(info, 1);
  return Wrap(info.Env(), at::std(T(info, 0), dims ? at::OptionalIntArrayRef(*dims) : at::OptionalIntArrayRef(), I(info, 2), B(info, 3)));
}
static Napi::Value cumsum(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::cumsum(T(info, 0), I(info, 1), OptDtype(info, 2))); }
static Napi::Value cumprod(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::cumprod(T(info, 0), I(info, 1))); }
static Napi::Value all(const Napi::CallbackInfo& info) {
  if (IsNull(info, 1)) return Wrap(info.Env(), at::all(T(info, 0)));
  return Wrap(info.Env(), at::all(T(info, 0), I(info, 1), B(info, 2)));
}
static Napi::Value any(const Napi::CallbackInfo& info) {
  if (IsNull(info, 1)) return Wrap(info.Env(), at::any(T(info, 0)));
  return Wrap(info.Env(), at::any(T(info, 0), I(info, 1), B(info, 2)));
}
// norm(t, p, dims?, keepdim)
static Napi::Value norm(const Napi::CallbackInfo& info) {
  auto dims = OptInts(info, 2);
  if (!dims) return Wrap(info.Env(), at::norm(T(info, 0), S(info, 1)));
  return Wrap(info.Env(), at::norm(T(info, 0), S(info, 1), *dims, B(info, 3)));
}

// ---- linear algebra
static Napi::Value matmul(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::matmul(T(info, 0), T(info, 1))); }
static Napi::Value mm(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::mm(T(info, 0), T(info, 1))); }
static Napi::Value bmm(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::bmm(T(info, 0), T(info, 1))); }
static Napi::Value outer(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::outer(T(info, 0), T(info, 1))); }
// linear(x, w, b?) = x @ w^T + b
static Napi::Value linear(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::linear(T(info, 0), T(info, 1), OptT(info, 2))); }
// baddbmm(input, b1, b2, beta, alpha) = beta*input + alpha*(b1 @ b2)
static Napi::Value baddbmm(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::baddbmm(T(info, 0), T(info, 1), T(info, 2), S(info, 3), S(info, 4)));
}

// ---- shape
static Napi::Value reshape(const Napi::CallbackInfo& info) { return Wrap(info.Env(), T(info, 0).reshape(Ints(info, 1))); }
static Napi::Value view(const Napi::CallbackInfo& info) { return Wrap(info.Env(), T(info, 0).view(Ints(info, 1))); }
static Napi::Value transpose(const Napi::CallbackInfo& info) { return Wrap(info.Env(), T(info, 0).transpose(I(info, 1), I(info, 2))); }
static Napi::Value permute(const Napi::CallbackInfo& info) { return Wrap(info.Env(), T(info, 0).permute(Ints(info, 1))); }
static Napi::Value unsqueeze(const Napi::CallbackInfo& info) { return Wrap(info.Env(), T(info, 0).unsqueeze(I(info, 1))); }
static Napi::Value squeeze(const Napi::CallbackInfo& info) {
  if (IsNull(info, 1)) return Wrap(info.Env(), T(info, 0).squeeze());
  return Wrap(info.Env(), T(info, 0).squeeze(I(info, 1)));
}
static Napi::Value expand(const Napi::CallbackInfo& info) { return Wrap(info.Env(), T(info, 0).expand(Ints(info, 1))); }
static Napi::Value flatten(const Napi::CallbackInfo& info) { return Wrap(info.Env(), T(info, 0).flatten(I(info, 1), I(info, 2))); }
static Napi::Value flip(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::flip(T(info, 0), Ints(info, 1))); }
static Napi::Value cat(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::cat(Tensors(info, 0), I(info, 1))); }
static Napi::Value stack(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::stack(Tensors(info, 0), I(info, 1))); }
// split(t, sizeOrSizes, dim)
static Napi::Value split(const Napi::CallbackInfo& info) {
  if (info[1].IsArray()) return WrapList(info.Env(), at::split_with_sizes(T(info, 0), Ints(info, 1), I(info, 2)));
  return WrapList(info.Env(), at::split(T(info, 0), I(info, 1), I(info, 2)));
}
static Napi::Value chunk(const Napi::CallbackInfo& info) { return WrapList(info.Env(), at::chunk(T(info, 0), I(info, 1), I(info, 2))); }
static Napi::Value narrow(const Napi::CallbackInfo& info) { return Wrap(info.Env(), T(info, 0).narrow(I(info, 1), I(info, 2), I(info, 3))); }
// slice(t, dim, start, end, step): end may be null (to the end); negative indices as in Python.
static Napi::Value slice(const Napi::CallbackInfo& info) {
  c10::optional<int64_t> start = IsNull(info, 2) ? c10::nullopt : c10::optional<int64_t>(I(info, 2));
  c10::optional<int64_t> end = IsNull(info, 3) ? c10::nullopt : c10::optional<int64_t>(I(info, 3));
  return Wrap(info.Env(), T(info, 0).slice(I(info, 1), start, end, IsNull(info, 4) ? 1 : I(info, 4)));
}
static Napi::Value select(const Napi::CallbackInfo& info) { return Wrap(info.Env(), T(info, 0).select(I(info, 1), I(info, 2))); }
static Napi::Value indexSelect(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::index_select(T(info, 0), I(info, 1), T(info, 2))); }
static Napi::Value gather(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::gather(T(info, 0), I(info, 1), T(info, 2))); }
// scatter(t, dim, index, src|value)
static Napi::Value scatter(const Napi::CallbackInfo& info) {
  if (info[3].IsObject()) return Wrap(info.Env(), at::scatter(T(info, 0), I(info, 1), T(info, 2), T(info, 3)));
  return Wrap(info.Env(), at::scatter(T(info, 0), I(info, 1), T(info, 2), S(info, 3)));
}
static Napi::Value scatterAdd(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::scatter_add(T(info, 0), I(info, 1), T(info, 2), T(info, 3))); }
// maskedFill(t, mask, value|tensor)
static Napi::Value maskedFill(const Napi::CallbackInfo& info) {
  if (info[2].IsObject()) return Wrap(info.Env(), at::masked_fill(T(info, 0), T(info, 1), T(info, 2)));
  return Wrap(info.Env(), at::masked_fill(T(info, 0), T(info, 1), S(info, 2)));
}
static Napi::Value maskedSelect(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::masked_select(T(info, 0), T(info, 1))); }
static Napi::Value triu(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::triu(T(info, 0), IsNull(info, 1) ? 0 : I(info, 1))); }
static Napi::Value tril(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::tril(T(info, 0), IsNull(info, 1) ? 0 : I(info, 1))); }
static Napi::Value roll(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::roll(T(info, 0), Ints(info, 1), Ints(info, 2))); }
static Napi::Value repeat(const Napi::CallbackInfo& info) { return Wrap(info.Env(), T(info, 0).repeat(Ints(info, 1))); }
// repeatInterleave(t, repeats:int|tensor, dim?)
static Napi::Value repeatInterleave(const Napi::CallbackInfo& info) {
  c10::optional<int64_t> dim = IsNull(info, 2) ? c10::nullopt : c10::optional<int64_t>(I(info, 2));
  if (info[1].IsObject()) return Wrap(info.Env(), at::repeat_interleave(T(info, 0), T(info, 1), dim));
  return Wrap(info.Env(), at::repeat_interleave(T(info, 0), I(info, 1), dim));
}
// index(t, [idx|null, ...]): advanced indexing with integer or boolean tensors.
static c10::List<c10::optional<at::Tensor>> IndexList(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be an array of tensors or nulls");
  Napi::Array a = info[i].As<Napi::Array>();
  c10::List<c10::optional<at::Tensor>> out;
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value e = a.Get(k);
    if (e.IsNull() || e.IsUndefined()) out.push_back(c10::nullopt);
    else {
      // Unwrap of anything but our handle is undefined behaviour: check first.
      if (!e.IsObject() || !e.As<Napi::Object>().InstanceOf(NTensor::constructor->Value()))
        throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be an array of tensors or nulls");
      NTensor* h = NTensor::Unwrap(e.As<Napi::Object>());
      if (h->released) throw Napi::Error::New(info.Env(), "tensor used after dispose()");
      out.push_back(h->tensor);
    }
  }
  return out;
}
static Napi::Value index(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::index(T(info, 0), IndexList(info, 1))); }
// indexPut(t, indices, values, accumulate) (out of place)
// A JS scalar value is cast to the destination's dtype (index_put wants equal dtypes), as
// PyTorch's `t[idx] = 9` does.
static at::Tensor PutValues(const Napi::CallbackInfo& info, size_t i, const at::Tensor& dst) {
  at::Tensor v = TorS(info, i);
  return info[i].IsObject() ? v : v.to(dst.scalar_type());
}
static Napi::Value indexPut(const Napi::CallbackInfo& info) {
  at::Tensor& t = T(info, 0);
  return Wrap(info.Env(), at::index_put(t, IndexList(info, 1), PutValues(info, 2, t), B(info, 3)));
}
static Napi::Value nonzero(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::nonzero(T(info, 0))); }

// ---- sorting and selection
static Napi::Value topk(const Napi::CallbackInfo& info) {
  auto r = at::topk(T(info, 0), I(info, 1), I(info, 2), B(info, 3, true), B(info, 4, true));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
static Napi::Value sort(const Napi::CallbackInfo& info) {
  auto r = at::sort(T(info, 0), I(info, 1), B(info, 2));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
static Napi::Value argsort(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::argsort(T(info, 0), I(info, 1), B(info, 2))); }
static Napi::Value multinomial(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::multinomial(T(info, 0), I(info, 1), B(info, 2))); }

// ---- in place (used by optimizers, initializers and caches; not recorded when grad is off)
static Napi::Value addInPlace(const Napi::CallbackInfo& info) { T(info, 0).add_(TorS(info, 1), IsNull(info, 2) ? at::Scalar(1) : S(info, 2)); return info[0]; }
static Napi::Value mulInPlace(const Napi::CallbackInfo& info) { T(info, 0).mul_(TorS(info, 1)); return info[0]; }
static Napi::Value divInPlace(const Napi::CallbackInfo& info) { T(info, 0).div_(TorS(info, 1)); return info[0]; }
static Napi::Value copyInPlace(const Napi::CallbackInfo& info) { T(info, 0).copy_(T(info, 1)); return info[0]; }
static Napi::Value zeroInPlace(const Napi::CallbackInfo& info) { T(info, 0).zero_(); return info[0]; }
static Napi::Value fillInPlace(const Napi::CallbackInfo& info) { T(info, 0).fill_(S(info, 1)); return info[0]; }
static Napi::Value clampInPlace(const Napi::CallbackInfo& info) { T(info, 0).clamp_(OptS(info, 1), OptS(info, 2)); return info[0]; }
static Napi::Value uniformInPlace(const Napi::CallbackInfo& info) { T(info, 0).uniform_(D(info, 1), D(info, 2)); return info[0]; }
static Napi::Value normalInPlace(const Napi::CallbackInfo& info) { T(info, 0).normal_(D(info, 1), D(info, 2)); return info[0]; }
static Napi::Value maskedFillInPlace(const Napi::CallbackInfo& info) { T(info, 0).masked_fill_(T(info, 1), S(info, 2)); return info[0]; }
// indexPutInPlace(t, indices, values, accumulate)
static Napi::Value indexPutInPlace(const Napi::CallbackInfo& info) {
  at::Tensor& t = T(info, 0);
  t.index_put_(IndexList(info, 1), PutValues(info, 2, t), B(info, 3));
  return info[0];
}
// sliceCopyInPlace(dst, dim, start, src): dst.narrow(dim, start, src.size(dim)).copy_(src)
static Napi::Value narrowCopyInPlace(const Napi::CallbackInfo& info) {
  at::Tensor& src = T(info, 3);
  int64_t dim = I(info, 1);
  T(info, 0).narrow(dim, I(info, 2), src.size(dim < 0 ? dim + src.dim() : dim)).copy_(src);
  return info[0];
}

void InitOps(Napi::Env env, Napi::Object exports) {
#define EXPORT_OP(name) Export<op_##name>(env, exports, #name);
  UNARY_OPS(EXPORT_OP)
  BINARY_OPS(EXPORT_OP)
#define E(name) Export<name>(env, exports, #name);
  E(addScaled) E(divMode) E(where) E(clamp) E(lerp) E(allclose) E(equal)
  E(sum) E(mean) E(prod) E(max) E(min) E(maxDim) E(minDim) E(argmax) E(argmin) E(logsumexp)
  E(var) E(cumsum) E(cumprod) E(all) E(any) E(norm)
  Export<std_>(env, exports, "std");
  E(matmul) E(mm) E(bmm) E(outer) E(linear) E(baddbmm)
  E(reshape) E(view) E(transpose) E(permute) E(unsqueeze) E(squeeze) E(expand) E(flatten) E(flip)
  E(cat) E(stack) E(split) E(chunk) E(narrow) E(slice) E(select) E(indexSelect) E(gather)
  E(scatter) E(scatterAdd) E(maskedFill) E(maskedSelect) E(triu) E(tril) E(roll) E(repeat)
  E(repeatInterleave) E(index) E(indexPut) E(nonzero)
  E(topk) E(sort) E(argsort) E(multinomial)
  E(addInPlace) E(mulInPlace) E(divInPlace) E(copyInPlace) E(zeroInPlace) E(fillInPlace)
  E(clampInPlace) E(uniformInPlace) E(normalInPlace) E(maskedFillInPlace) E(indexPutInPlace)
  E(narrowCopyInPlace)
#undef E
#undef EXPORT_OP
}

}  // namespace prime
