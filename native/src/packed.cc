// XNNPACK's prepacked fully-connected operator, as libtorch ships it (`prepacked::linear_clamp_prepack`
// and `prepacked::linear_clamp_run`, registered in builds with USE_XNNPACK: Debian's libtorch 1.13;
// PyPI's 2.x wheels no longer register them, and there packLinear returns null). Used for the
// lm_head of few-row decoding steps on the CPU, where OpenBLAS's GEMM is far from the memory bound:
// 151,936 × 896, 2 threads, libtorch 1.13: 1 row 36–48 ms by at::linear, 17–18 ms by XNNPACK
// (reading the 545 MB weight takes ≈16 ms); 8 rows 44–53 vs 25–26 ms; 16 rows level.
//
// The weight is split by output rows into `parts` contexts, and the parts run in an ATen
// parallel_for (OpenMP), each on its own thread with libtorch's pthreadpool switched off there
// (caffe2::_NoPThreadPoolGuard, thread-local), so XNNPACK computes on the calling thread. Letting
// XNNPACK use its own thread pool instead measured 2× slower inside a decoding step: OpenMP's
// workers, spinning after the step's previous op, and the pool's workers contend for the cores
// (151,936 × 896, 8 rows, after an OpenMP GEMM: 61 ms, vs 32 ms with OMP_WAIT_POLICY=passive).
#include "common.h"
#include "packed.h"
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <c10/core/GradMode.h>

// libtorch's own switch (caffe2/utils/threadpool/pthreadpool-cpp.h, exported by libtorch_cpu
// since 1.7 but not among the installed headers): while enabled on a thread, libtorch's
// pthreadpool is null there and XNNPACK runs its work on that thread.
namespace caffe2 {
class _NoPThreadPoolGuard {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};
}  // namespace caffe2

namespace prime {

namespace {
struct NoPool {
  bool prev = caffe2::_NoPThreadPoolGuard::is_enabled();
  NoPool() { caffe2::_NoPThreadPoolGuard::set_enabled(true); }
  ~NoPool() { caffe2::_NoPThreadPoolGuard::set_enabled(prev); }
};

c10::optional<c10::OperatorHandle> Op(const char* name) {
  return c10::Dispatcher::singleton().findSchema({name, ""});
}
}  // namespace

bool PackedLinearAvailable() {
  static const bool ok = Op("prepacked::linear_clamp_prepack").has_value() && Op("prepacked::linear_clamp_run").has_value();
  return ok;
}

std::shared_ptr<PackedLinear> PackLinear(const at::Tensor& w, const c10::optional<at::Tensor>& bias, int64_t parts) {
  TORCH_CHECK(PackedLinearAvailable(), "packLinear: this libtorch (", TORCH_VERSION, ") has no XNNPACK prepacked linear");
  TORCH_CHECK(w.dim() == 2 && w.scalar_type() == at::kFloat && w.device().is_cpu(),
              "packLinear: expected a 2-D float32 CPU weight (out, in), got ", w.sizes(), " ", w.scalar_type(), " on ", w.device());
  TORCH_CHECK(parts >= 1, "packLinear: parts must be >= 1, got ", parts);
  TORCH_CHECK(!bias || (bias->dim() == 1 && bias->size(0) == w.size(0) && bias->scalar_type() == at::kFloat && bias->device().is_cpu()),
              "packLinear: expected a float32 CPU bias of ", w.size(0), " values, got ", bias ? bias->sizes() : at::IntArrayRef{});
  c10::NoGradGuard ng;
  static const c10::OperatorHandle op = *Op("prepacked::linear_clamp_prepack");
  auto pk = std::make_shared<PackedLinear>();
  pk->out = w.size(0);
  pk->in = w.size(1);
  at::Tensor wc = w.detach().contiguous();  // XNNPACK refuses weights that require grad
  at::Tensor bc = bias ? bias->detach().contiguous() : at::Tensor();
  parts = std::min(parts, pk->out);
  pk->contexts.resize(parts);
  for (int64_t p = 0; p < parts; p++) {
    pk->starts.push_back(pk->out * p / parts);
    pk->sizes.push_back(pk->out * (p + 1) / parts - pk->starts.back());
  }
  // the pieces are packed in parallel too, each on its own thread (151,936 × 896 in 8 pieces,
  // 2 threads: ≈2× faster than one after another)
  at::parallel_for(0, parts, 1, [&](int64_t b, int64_t e) {
    NoPool guard;
    for (int64_t p = b; p < e; p++) {
      // linear_clamp_prepack(Tensor W, Tensor? B=None, Scalar? output_min=None, Scalar? output_max=None)
      c10::IValue bp = bc.defined() ? c10::IValue(bc.narrow(0, pk->starts[p], pk->sizes[p])) : c10::IValue();
      torch::jit::Stack stack{c10::IValue(wc.narrow(0, pk->starts[p], pk->sizes[p])), bp, c10::IValue(), c10::IValue()};
      op.callBoxed(&stack);
      TORCH_CHECK(stack.size() == 1, "packLinear: linear_clamp_prepack returned ", stack.size(), " values");
      pk->contexts[p] = std::move(stack[0]);
    }
  });
  return pk;
}

at::Tensor RunPacked(const at::Tensor& x, const PackedLinear& pk) {
  TORCH_CHECK(!pk.contexts.empty(), "packedLinear: the packed weight was released");
  TORCH_CHECK(x.dim() == 2 && x.size(1) == pk.in && x.scalar_type() == at::kFloat && x.device().is_cpu(),
              "packedLinear: expected a (rows, ", pk.in, ") float32 CPU input, got ", x.sizes(), " ", x.scalar_type(), " on ", x.device());
  c10::NoGradGuard ng;
  static const c10::OperatorHandle op = *Op("prepacked::linear_clamp_run");  // exists: pk was packed
  at::Tensor xc = x.contiguous();
  auto n = static_cast<int64_t>(pk.contexts.size());
  at::Tensor out = n == 1 ? at::Tensor() : at::empty({x.size(0), pk.out}, x.options());
  at::parallel_for(0, n, 1, [&](int64_t b, int64_t e) {
    NoPool guard;
    for (int64_t p = b; p < e; p++) {
      // linear_clamp_run(Tensor X, LinearOpContext W_prepack) -> Tensor Y
      torch::jit::Stack stack{c10::IValue(xc), pk.contexts[p]};
      op.callBoxed(&stack);
      if (n == 1) out = stack[0].toTensor();
      else out.narrow(1, pk.starts[p], pk.sizes[p]).copy_(stack[0].toTensor());
    }
  });
  return out;
}

// ---------------------------------------------------------------- JS bindings
std::shared_ptr<PackedLinear> PackedValue(Napi::Env env, Napi::Value v) {
  if (!v.IsExternal()) throw Napi::TypeError::New(env, "expected a packed linear (packLinear)");
  return *v.As<Napi::External<std::shared_ptr<PackedLinear>>>().Data();
}

namespace {
void Free(Napi::BasicEnv, std::shared_ptr<PackedLinear>* p) { delete p; }

// packLinearAvailable() -> whether this libtorch has XNNPACK's prepacked linear
Napi::Value packLinearAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), PackedLinearAvailable()); }
// packLinear(w (out,in) float32 CPU, bias (out) | null, parts) -> handle. Throws where packLinearAvailable() is false.
Napi::Value packLinear(const Napi::CallbackInfo& info) {
  auto pk = PackLinear(T(info, 0), OptT(info, 1), I(info, 2));
  return Napi::External<std::shared_ptr<PackedLinear>>::New(info.Env(), new std::shared_ptr<PackedLinear>(std::move(pk)), Free);
}
// packedLinear(x (rows,in) float32, handle) -> x · wᵀ + b (rows,out)
Napi::Value packedLinear(const Napi::CallbackInfo& info) { return Wrap(info.Env(), RunPacked(T(info, 0), *PackedValue(info.Env(), info[1]))); }
// releasePacked(handle): frees the packed copy now (the GC would, later); using it after is an error.
Napi::Value releasePacked(const Napi::CallbackInfo& info) {
  auto pk = PackedValue(info.Env(), info[0]);
  pk->contexts.clear();
  pk->starts.clear();
  pk->sizes.clear();
  return info.Env().Undefined();
}
}  // namespace

void InitPacked(Napi::Env env, Napi::Object exports) {
  Export<packLinearAvailable>(env, exports, "packLinearAvailable");
  Export<packLinear>(env, exports, "packLinear");
  Export<packedLinear>(env, exports, "packedLinear");
  Export<releasePacked>(env, exports, "releasePacked");
}

}  // namespace prime
