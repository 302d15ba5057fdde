// Shared pieces of the prime-ts native addon: the tensor handle, argument readers and the
// guard that turns every C++ exception (libtorch's c10::Error included) into a JS Error.
// Nothing here may abort the process: every entry point is wrapped by Guard<>.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/version.h>
// Version guards: Debian's 1.13 and PyPI's 2.x wheels are both supported.
#define PRIME_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))
#include <atomic>
#include <optional>
#include <string>
#include <vector>

namespace prime {

// Live native tensors and their bytes (numel * element size; views count their own size).
extern std::atomic<int64_t> g_live_tensors;
extern std::atomic<int64_t> g_live_bytes;

// One JS object per libtorch tensor. dispose() and the GC finalizer share `released`,
// so a dispose racing a finalizer cannot free twice.
class NTensor : public Napi::ObjectWrap<NTensor> {
 public:
  static Napi::FunctionReference* constructor;
  static Napi::Function Init(Napi::Env env);
  explicit NTensor(const Napi::CallbackInfo& info);
  ~NTensor() override;
  // Basic finalizer: runs inside GC, touches no JS, frees native memory at once.
  void Finalize(Napi::BasicEnv env) override;
  void Release(Napi::BasicEnv env);

  at::Tensor tensor;
  int64_t bytes = 0;
  bool released = false;
};

// Creates a JS handle owning `t`.
Napi::Value Wrap(Napi::Env env, at::Tensor t);
Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& ts);

// Argument readers. They throw Napi::TypeError naming the argument at fault.
at::Tensor& T(const Napi::CallbackInfo& info, size_t i);
c10::optional<at::Tensor> OptT(const Napi::CallbackInfo& info, size_t i);
// A tensor, or a JS number/boolean turned into a "wrapped number" tensor, which takes part in
// type promotion as a Python scalar does (int tensor + 2 stays int; int tensor + 2.5 is float).
at::Tensor TorS(const Napi::CallbackInfo& info, size_t i);
at::Scalar S(const Napi::CallbackInfo& info, size_t i);
c10::optional<at::Scalar> OptS(const Napi::CallbackInfo& info, size_t i);
std::vector<int64_t> Ints(const Napi::CallbackInfo& info, size_t i);
c10::optional<std::vector<int64_t>> OptInts(const Napi::CallbackInfo& info, size_t i);
std::vector<at::Tensor> Tensors(const Napi::CallbackInfo& info, size_t i);
int64_t I(const Napi::CallbackInfo& info, size_t i);
double D(const Napi::CallbackInfo& info, size_t i);
bool B(const Napi::CallbackInfo& info, size_t i, bool dflt = false);
std::string Str(const Napi::CallbackInfo& info, size_t i);
bool IsNull(const Napi::CallbackInfo& info, size_t i);

at::ScalarType ParseDtype(const std::string& s);
std::string DtypeName(at::ScalarType t);
c10::Device ParseDevice(const std::string& s);
at::TensorOptions Options(const Napi::CallbackInfo& info, size_t dtypeArg, size_t deviceArg,
                          at::ScalarType dflt = at::kFloat);

using Fn = Napi::Value (*)(const Napi::CallbackInfo&);

// Every exported function goes through Guard: C++ and libtorch errors become JS Errors
// carrying libtorch's message (without its C++ backtrace).
template <Fn F>
Napi::Value Guard(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  } catch (...) {
    throw Napi::Error::New(info.Env(), "unknown native error");
  }
}

template <Fn F>
void Export(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New<Guard<F>>(env, name));
}

void InitOps(Napi::Env env, Napi::Object exports);
void InitNN(Napi::Env env, Napi::Object exports);
void InitIO(Napi::Env env, Napi::Object exports);
void InitDist(Napi::Env env, Napi::Object exports);  // dist.cc: exports.dist
void InitPacked(Napi::Env env, Napi::Object exports);  // packed.cc

}  // namespace prime
