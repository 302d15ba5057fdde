// The tensor handle, argument readers, creation and read-back, autograd, memory accounting,
// random state and threads; the module's entry point.
#include "common.h"
#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace prime {

std::atomic<int64_t> g_live_tensors{0};
std::atomic<int64_t> g_live_bytes{0};
Napi::FunctionReference* NTensor::constructor = nullptr;

// The tensor a JS `new NTensor()` from Wrap() adopts. The addon runs on the JS thread only.
static at::Tensor g_pending;

// What V8 is told about native memory (napi_adjust_external_memory), so that forgotten tensors
// are collected under pressure. V8 starts a GC whenever the reported amount rises 64 MB above its
// level at the last GC. Reporting every create and dispose made the reported amount swing with
// each training step's activations (≈ 300 MB up and down in the benchmark transformer): 6 GCs and
// ≈ 20 ms of pauses per 600 ms step that reclaimed nothing, as tidy had freed it all. So:
//  - a rise of the live bytes above the reported amount is reported at once;
//  - a tensor freed by the GC (forgotten) is un-reported at once, from its finalizer;
//  - a tensor freed by dispose() is not: the reported amount comes down to the peak of the last
//    window only (a window ends after max(reported, 64 MB) bytes of new tensors), so a steady
//    loop that frees what it makes holds the amount at its peak and triggers no GC.
// A loop that forgets its tensors is reclaimed as before (measured: at most ~100 of 3,000
// dropped 1 MiB tensors alive at once, as with per-tensor reporting).
static int64_t g_reported = 0, g_window_peak = 0, g_window_alloc = 0;
static void ReportCreated(Napi::Env env, int64_t bytes) {
  int64_t live = g_live_bytes.load();
  g_window_peak = std::max(g_window_peak, live);
  g_window_alloc += bytes;
  int64_t target = g_reported;
  if (live > g_reported) {
    target = live;
  } else if (g_window_alloc > std::max<int64_t>(g_reported, int64_t(64) << 20)) {
    target = std::min(g_reported, g_window_peak);  // only ever lowers
    g_window_peak = live;
    g_window_alloc = 0;
  }
  if (target != g_reported) {
    int64_t delta = target - g_reported;
    g_reported = target;  // before the call: it may run a GC whose finalizers lower g_reported
    Napi::MemoryManagement::AdjustExternalMemory(env, delta);
  }
}

NTensor::NTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NTensor>(info) {
  if (!g_pending.defined()) {
    released = true;  // constructed from JS by hand: an empty, unusable handle
    return;
  }
  tensor = std::move(g_pending);
  g_pending = at::Tensor();
  bytes = static_cast<int64_t>(tensor.numel()) * static_cast<int64_t>(tensor.element_size());
  g_live_tensors++;
  g_live_bytes += bytes;
  ReportCreated(info.Env(), bytes);
}

void NTensor::Release(Napi::BasicEnv env) {
  if (released) return;
  released = true;
  tensor = at::Tensor();
  g_live_tensors--;
  g_live_bytes -= bytes;
}

void NTensor::Finalize(Napi::BasicEnv env) {
  if (!released) {  // forgotten: V8 learns at once that these bytes are gone
    g_reported -= bytes;
    Napi::MemoryManagement::AdjustExternalMemory(env, -bytes);
  }
  Release(env);
}

NTensor::~NTensor() {
  // Release() ran in Finalize or dispose; if not (addon teardown), just drop the reference.
  if (!released) {
    tensor = at::Tensor();
    g_live_tensors--;
    g_live_bytes -= bytes;
  }
}

Napi::Function NTensor::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "NativeTensor", {});
  constructor = new Napi::FunctionReference(Napi::Persistent(f));
  return f;
}

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  g_pending = std::move(t);
  return NTensor::constructor->New({});
}

Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  Napi::Array a = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) a.Set(static_cast<uint32_t>(i), Wrap(env, ts[i]));
  return a;
}

// ---------------------------------------------------------------- argument readers
static Napi::TypeError ArgError(const Napi::CallbackInfo& info, size_t i, const char* want) {
  return Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be " + want);
}

static NTensor* Handle(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(NTensor::constructor->Value()))
    throw ArgError(info, i, "a tensor");
  return NTensor::Unwrap(v.As<Napi::Object>());
}

at::Tensor& T(const Napi::CallbackInfo& info, size_t i) {
  NTensor* h = Handle(info, i);
  if (h->released) throw Napi::Error::New(info.Env(), "tensor used after dispose()");
  return h->tensor;
}

bool IsNull(const Napi::CallbackInfo& info, size_t i) {
  return i >= info.Length() || info[i].IsNull() || info[i].IsUndefined();
}

c10::optional<at::Tensor> OptT(const Napi::CallbackInfo& info, size_t i) {
  if (IsNull(info, i)) return c10::nullopt;
  return T(info, i);
}

at::Scalar S(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    // An integral JS number acts as a Python int (keeps integer tensors integral).
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.007199254740992e15)
      return at::Scalar(static_cast<int64_t>(d));
    return at::Scalar(d);
  }
  if (v.IsBigInt()) {
    bool lossless;
    return at::Scalar(static_cast<int64_t>(v.As<Napi::BigInt>().Int64Value(&lossless)));
  }
  throw ArgError(info, i, "a number or boolean");
}

c10::optional<at::Scalar> OptS(const Napi::CallbackInfo& info, size_t i) {
  if (IsNull(info, i)) return c10::nullopt;
  return S(info, i);
}

at::Tensor TorS(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (v.IsObject()) return T(info, i);
  at::Tensor t = c10::scalar_to_tensor(S(info, i));
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

std::vector<int64_t> Ints(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  std::vector<int64_t> out;
  if (v.IsNumber()) {
    out.push_back(v.As<Napi::Number>().Int64Value());
    return out;
  }
  if (!v.IsArray()) throw ArgError(info, i, "an integer or an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  out.reserve(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value e = a.Get(k);
    if (!e.IsNumber()) throw ArgError(info, i, "an array of integers");
    out.push_back(e.As<Napi::Number>().Int64Value());
  }
  return out;
}

c10::optional<std::vector<int64_t>> OptInts(const Napi::CallbackInfo& info, size_t i) {
  if (IsNull(info, i)) return c10::nullopt;
  return Ints(info, i);
}

std::vector<at::Tensor> Tensors(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw ArgError(info, i, "an array of tensors");
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value e = a.Get(k);
    if (!e.IsObject() || !e.As<Napi::Object>().InstanceOf(NTensor::constructor->Value()))
      throw ArgError(info, i, "an array of tensors");
    NTensor* h = NTensor::Unwrap(e.As<Napi::Object>());
    if (h->released) throw Napi::Error::New(info.Env(), "tensor used after dispose()");
    out.push_back(h->tensor);
  }
  return out;
}

int64_t I(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw ArgError(info, i, "an integer");
  return info[i].As<Napi::Number>().Int64Value();
}
double D(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw ArgError(info, i, "a number");
  return info[i].As<Napi::Number>().DoubleValue();
}
bool B(const Napi::CallbackInfo& info, size_t i, bool dflt) {
  if (IsNull(info, i)) return dflt;
  return info[i].ToBoolean().Value();
}
std::string Str(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsString()) throw ArgError(info, i, "a string");
  return info[i].As<Napi::String>().Utf8Value();
}

at::ScalarType ParseDtype(const std::string& s) {
  if (s == "float32") return at::kFloat;
  if (s == "float64") return at::kDouble;
  if (s == "float16") return at::kHalf;
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "int64") return at::kLong;
  if (s == "int32") return at::kInt;
  if (s == "int16") return at::kShort;
  if (s == "int8") return at::kChar;
  if (s == "uint8") return at::kByte;
  if (s == "bool") return at::kBool;
  throw std::invalid_argument("unknown dtype '" + s + "'");
}

std::string DtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return std::string(c10::toString(t));
  }
}

c10::Device ParseDevice(const std::string& s) { return c10::Device(s); }

at::TensorOptions Options(const Napi::CallbackInfo& info, size_t dtypeArg, size_t deviceArg,
                          at::ScalarType dflt) {
  at::TensorOptions o = at::TensorOptions().dtype(IsNull(info, dtypeArg) ? dflt : ParseDtype(Str(info, dtypeArg)));
  if (!IsNull(info, deviceArg)) o = o.device(ParseDevice(Str(info, deviceArg)));
  return o;
}

// ---------------------------------------------------------------- creation and read-back
// fromBytes(bytes: ArrayBufferView, shape, dtype, device?) -> copies the bytes.
static Napi::Value fromBytes(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray() && !info[0].IsDataView()) throw ArgError(info, 0, "a typed array");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  auto shape = Ints(info, 1);
  at::ScalarType dt = ParseDtype(Str(info, 2));
  uint8_t* src = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  size_t nbytes = ta.ByteLength();
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dt));
  size_t want = static_cast<size_t>(t.numel()) * t.element_size();
  if (want != nbytes)
    throw Napi::RangeError::New(info.Env(), "data has " + std::to_string(nbytes) + " bytes but shape and dtype need " + std::to_string(want));
  if (nbytes) std::memcpy(t.data_ptr(), src, nbytes);
  if (!IsNull(info, 3)) t = t.to(ParseDevice(Str(info, 3)));
  return Wrap(info.Env(), t);
}

// toBytes(t) -> ArrayBuffer with the tensor's elements, contiguous, row-major, on the CPU.
static Napi::Value toBytes(const Napi::CallbackInfo& info) {
  at::Tensor t = T(info, 0).detach().to(at::kCPU).contiguous();
  size_t n = static_cast<size_t>(t.numel()) * t.element_size();
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(info.Env(), n);
  if (n) std::memcpy(ab.Data(), t.data_ptr(), n);
  return ab;
}

static Napi::Value item(const Napi::CallbackInfo& info) {
  at::Tensor& t = T(info, 0);
  if (t.numel() != 1) throw Napi::Error::New(info.Env(), "item() needs a tensor with one element, got " + std::to_string(t.numel()));
  if (t.scalar_type() == at::kBool) return Napi::Boolean::New(info.Env(), t.item<bool>());
  return Napi::Number::New(info.Env(), t.item<double>());
}

static Napi::Value info_(const Napi::CallbackInfo& info) {
  // [shape, dtype, device, requiresGrad] in one call: reading metadata costs one crossing.
  at::Tensor& t = T(info, 0);
  Napi::Env env = info.Env();
  Napi::Array shape = Napi::Array::New(env, t.dim());
  for (int64_t k = 0; k < t.dim(); k++) shape.Set(static_cast<uint32_t>(k), Napi::Number::New(env, static_cast<double>(t.size(k))));
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, shape);
  out.Set(1u, Napi::String::New(env, DtypeName(t.scalar_type())));
  out.Set(2u, Napi::String::New(env, t.device().str()));
  out.Set(3u, Napi::Boolean::New(env, t.requires_grad()));
  return out;
}

static Napi::Value requiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), T(info, 0).requires_grad());
}
static Napi::Value isContiguous(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), T(info, 0).is_contiguous());
}
static Napi::Value isLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), T(info, 0).is_leaf());
}

static Napi::Value dispose(const Napi::CallbackInfo& info) {
  NTensor* h = Handle(info, 0);
  h->Release(info.Env());
  return info.Env().Undefined();
}
static Napi::Value isDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Handle(info, 0)->released);
}

static Napi::Value memory(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("tensors", Napi::Number::New(info.Env(), static_cast<double>(g_live_tensors.load())));
  o.Set("bytes", Napi::Number::New(info.Env(), static_cast<double>(g_live_bytes.load())));
  return o;
}

// ---------------------------------------------------------------- CPU memory
// libtorch's default CPU allocator takes every block from posix_memalign. Under Node that
// fragmented glibc's heap without bound: the large, short-lived blocks of a training step were
// freed into holes that the next step's 64-byte-aligned requests of the same size could not reuse
// (small native allocations such as the JS handles' wrappers settle between them), so RSS grew
// by ~70 MB per step of the 4-layer benchmark transformer (3 GB after 40 steps) and every step
// paid ~30,000 page faults. PyTorch from Python stays flat: its small objects live in pymalloc's
// own arenas. Here blocks of 128 KiB and more come straight from mmap and, once freed, are kept
// by size class (≤ 12.5% rounding) for the next request of that class, as PyTorch's CUDA
// allocator does; PRIME_CPU_CACHE_MB (default 1024) bounds the kept bytes and emptyCache()
// returns them to the system. Smaller blocks still come from posix_memalign.
// Every block starts with a 64-byte header holding its mapped size (0 = from posix_memalign), so
// the data stays 64-byte aligned and data pointer == context, as raw_allocate() requires.
// libtorch 2.3 made allocate() non-const and added a pure copy_data().
#if PRIME_TORCH_AT_LEAST(2, 3)
#define PRIME_ALLOC_CONST
#else
#define PRIME_ALLOC_CONST const
#endif
class CachingCPUAllocator final : public c10::Allocator {
 public:
  static constexpr size_t kHeader = 64, kLarge = 128 << 10, kPage = 4096;

  c10::DataPtr allocate(size_t n) PRIME_ALLOC_CONST override {
    if (n == 0) return {nullptr, nullptr, &Delete, c10::Device(c10::DeviceType::CPU)};
    void* base = nullptr;
    size_t mapped = 0;
    if (n + kHeader < kLarge) {
      if (posix_memalign(&base, kHeader, n + kHeader) != 0) base = nullptr;
      TORCH_CHECK(base, "CPU allocator: out of memory allocating ", n, " bytes");
    } else {
      mapped = SizeClass(n + kHeader);
      base = Take(mapped);
      if (!base) base = Map(mapped);
    }
    *static_cast<size_t*>(base) = mapped;
    void* data = static_cast<char*>(base) + kHeader;
    return {data, data, &Delete, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &Delete; }
#if PRIME_TORCH_AT_LEAST(2, 3)
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#endif

  static CachingCPUAllocator& Get() {
    static CachingCPUAllocator* a = new CachingCPUAllocator();  // never destroyed: blocks may be freed during exit
    return *a;
  }
  int64_t CachedBytes() {
    std::lock_guard<std::mutex> g(mu_);
    return static_cast<int64_t>(cached_);
  }
  void EmptyCache() {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& [size, blocks] : free_)
      for (void* b : blocks) ::munmap(b, size);
    free_.clear();
    cached_ = 0;
  }

 private:
  CachingCPUAllocator() {
    const char* mb = std::getenv("PRIME_CPU_CACHE_MB");
    limit_ = static_cast<size_t>(mb ? std::max(0L, std::atol(mb)) : 1024L) << 20;
  }
  // Rounds up to a multiple of max(page, 2^k / 8) where 2^k ≤ n < 2^(k+1).
  static size_t SizeClass(size_t n) {
    size_t p = size_t(1) << (63 - __builtin_clzll(n));
    size_t step = std::max(kPage, p / 8);
    return (n + step - 1) / step * step;
  }
  void* Take(size_t size) const {
    std::lock_guard<std::mutex> g(mu_);
    auto it = free_.find(size);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* b = it->second.back();
    it->second.pop_back();
    cached_ -= size;
    return b;
  }
  void* Map(size_t size) const {
    void* b = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) {  // give the cache back and try once more
      Get().EmptyCache();
      b = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    TORCH_CHECK(b != MAP_FAILED, "CPU allocator: out of memory allocating ", size, " bytes: ", std::strerror(errno));
    return b;
  }
  static void Delete(void* data) {
    if (!data) return;
    void* base = static_cast<char*>(data) - kHeader;
    size_t size = *static_cast<size_t*>(base);
    if (size == 0) return std::free(base);
    Get().Keep(base, size);
  }
  // Caches a freed block, evicting other blocks to stay within the limit.
  void Keep(void* base, size_t size) {
    std::lock_guard<std::mutex> g(mu_);
    for (auto it = free_.begin(); cached_ + size > limit_ && it != free_.end(); ++it)
      while (!it->second.empty() && cached_ + size > limit_) {
        ::munmap(it->second.back(), it->first);
        it->second.pop_back();
        cached_ -= it->first;
      }
    if (cached_ + size > limit_) {
      ::munmap(base, size);
      return;
    }
    free_[size].push_back(base);
    cached_ += size;
  }

  mutable std::mutex mu_;
  mutable std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> freed blocks
  mutable size_t cached_ = 0;
  size_t limit_ = 0;
};

// cachedMemory() -> bytes of freed CPU blocks kept for reuse; emptyCache() returns them.
static Napi::Value cachedMemory(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CachingCPUAllocator::Get().CachedBytes()));
}
static Napi::Value emptyCache(const Napi::CallbackInfo& info) {
  CachingCPUAllocator::Get().EmptyCache();
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- factories
// zeros/ones/empty(shape, dtype?, device?)
static Napi::Value zeros(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::zeros(Ints(info, 0), Options(info, 1, 2))); }
static Napi::Value ones(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::ones(Ints(info, 0), Options(info, 1, 2))); }
static Napi::Value empty(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::empty(Ints(info, 0), Options(info, 1, 2))); }
// full(shape, value, dtype?, device?): dtype defaults from the value, as in PyTorch.
static Napi::Value full(const Napi::CallbackInfo& info) {
  at::Scalar v = S(info, 1);
  at::ScalarType dflt = v.isBoolean() ? at::kBool : v.isIntegral(false) ? at::kLong : at::kFloat;
  return Wrap(info.Env(), at::full(Ints(info, 0), v, Options(info, 2, 3, dflt)));
}
// arange(start, end, step, dtype?, device?)
static Napi::Value arange(const Napi::CallbackInfo& info) {
  at::Scalar a = S(info, 0), b = S(info, 1), s = S(info, 2);
  bool integral = a.isIntegral(false) && b.isIntegral(false) && s.isIntegral(false);
  return Wrap(info.Env(), at::arange(a, b, s, Options(info, 3, 4, integral ? at::kLong : at::kFloat)));
}
static Napi::Value linspace(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::linspace(S(info, 0), S(info, 1), I(info, 2), Options(info, 3, 4)));
}
static Napi::Value rand(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::rand(Ints(info, 0), Options(info, 1, 2))); }
static Napi::Value randn(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::randn(Ints(info, 0), Options(info, 1, 2))); }
// randint(low, high, shape, dtype?, device?)
static Napi::Value randint(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::randint(I(info, 0), I(info, 1), Ints(info, 2), Options(info, 3, 4, at::kLong)));
}

// randperm(n, dtype?, device?): a random permutation of 0 … n−1
static Napi::Value randperm(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::randperm(I(info, 0), Options(info, 1, 2, at::kLong)));
}

// ---------------------------------------------------------------- conversion
// to(t, dtype?, device?, copy?)
static Napi::Value to(const Napi::CallbackInfo& info) {
  at::Tensor& t = T(info, 0);
  at::ScalarType dt = IsNull(info, 1) ? t.scalar_type() : ParseDtype(Str(info, 1));
  c10::Device dev = IsNull(info, 2) ? t.device() : ParseDevice(Str(info, 2));
  return Wrap(info.Env(), t.to(dev, dt, false, B(info, 3)));
}

// ---------------------------------------------------------------- autograd
// versionStamp(tensors) -> one string of each tensor's version counter (bumped by every in-place
// write through ATen, and by prime-ts's in-place collectives) and storage address: equal stamps
// mean the same storage, unwritten since. CausalLM's cached decode weights are keyed by it.
static Napi::Value versionStamp(const Napi::CallbackInfo& info) {
  std::string out;
  for (const auto& t : Tensors(info, 0))
    out += std::to_string(t._version()) + "@" + std::to_string(reinterpret_cast<uintptr_t>(t.data_ptr())) + ",";
  return Napi::String::New(info.Env(), out);
}
static Napi::Value setRequiresGrad(const Napi::CallbackInfo& info) {
  T(info, 0).set_requires_grad(B(info, 1, true));
  return info.Env().Undefined();
}
// backward(t, grad?, retainGraph?)
static Napi::Value backward(const Napi::CallbackInfo& info) {
  at::Tensor& t = T(info, 0);
  auto g = OptT(info, 1);
  if (!g && t.numel() != 1)
    throw Napi::Error::New(info.Env(), "backward() without a gradient needs a tensor with one element; pass a gradient for shape [" + std::to_string(t.numel()) + " elements]");
  bool retain = B(info, 2);
  torch::autograd::backward({t}, {g ? *g : at::Tensor()}, retain, false);
  return info.Env().Undefined();
}
static Napi::Value grad(const Napi::CallbackInfo& info) {
  const at::Tensor& g = T(info, 0).grad();
  return g.defined() ? Wrap(info.Env(), g) : info.Env().Null();
}
static Napi::Value setGrad(const Napi::CallbackInfo& info) {
  at::Tensor& t = T(info, 0);
  auto g = OptT(info, 1);
  // as PyTorch's `p.grad = g`: optimizers and accumulation assume the parameter's metadata
  if (g && (g->sizes() != t.sizes() || g->scalar_type() != t.scalar_type() || g->device() != t.device()))
    throw std::invalid_argument("assigned grad has shape " + c10::str(g->sizes()) + ", dtype " + DtypeName(g->scalar_type()) +
                                " on " + g->device().str() + " but the tensor has shape " + c10::str(t.sizes()) + ", dtype " +
                                DtypeName(t.scalar_type()) + " on " + t.device().str());
  t.mutable_grad() = g ? *g : at::Tensor();
  return info.Env().Undefined();
}
static Napi::Value setGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(B(info, 0));
  return Napi::Boolean::New(info.Env(), prev);
}
static Napi::Value isGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// ---------------------------------------------------------------- random state, threads
static Napi::Value manualSeed(const Napi::CallbackInfo& info) {
  at::manual_seed(static_cast<uint64_t>(I(info, 0)));
  return info.Env().Undefined();
}
static Napi::Value getRngState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return Wrap(info.Env(), at::Tensor(gen.get_state()));
}
static Napi::Value setRngState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(T(info, 0));
  return info.Env().Undefined();
}
static Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  at::set_num_threads(static_cast<int>(I(info, 0)));
  return info.Env().Undefined();
}
static Napi::Value getNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}
static Napi::Value version(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("libtorch", std::string(TORCH_VERSION));
  o.Set("mkl", at::globalContext().hasMKL());  // the BLAS behind CPU GEMMs: MKL, else (Debian's build) OpenBLAS
#ifdef PRIME_HAS_CUDA
  o.Set("cuda", true);
#else
  o.Set("cuda", false);
#endif
  return o;
}
static Napi::Value cudaAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::hasCUDA());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // before any tensor exists; priority above the default allocator's registration
  c10::SetCPUAllocator(&CachingCPUAllocator::Get(), /*priority=*/100);
  exports.Set("NativeTensor", NTensor::Init(env));
  Export<fromBytes>(env, exports, "fromBytes");
  Export<toBytes>(env, exports, "toBytes");
  Export<item>(env, exports, "item");
  Export<info_>(env, exports, "info");
  Export<requiresGrad>(env, exports, "requiresGrad");
  Export<isContiguous>(env, exports, "isContiguous");
  Export<isLeaf>(env, exports, "isLeaf");
  Export<dispose>(env, exports, "dispose");
  Export<isDisposed>(env, exports, "isDisposed");
  Export<memory>(env, exports, "memory");
  Export<cachedMemory>(env, exports, "cachedMemory");
  Export<emptyCache>(env, exports, "emptyCache");
  Export<zeros>(env, exports, "zeros");
  Export<ones>(env, exports, "ones");
  Export<empty>(env, exports, "empty");
  Export<full>(env, exports, "full");
  Export<arange>(env, exports, "arange");
  Export<linspace>(env, exports, "linspace");
  Export<rand>(env, exports, "rand");
  Export<randn>(env, exports, "randn");
  Export<randint>(env, exports, "randint");
  Export<randperm>(env, exports, "randperm");
  Export<to>(env, exports, "to");
  Export<versionStamp>(env, exports, "versionStamp");
  Export<setRequiresGrad>(env, exports, "setRequiresGrad");
  Export<backward>(env, exports, "backward");
  Export<grad>(env, exports, "grad");
  Export<setGrad>(env, exports, "setGrad");
  Export<setGradEnabled>(env, exports, "setGradEnabled");
  Export<isGradEnabled>(env, exports, "isGradEnabled");
  Export<manualSeed>(env, exports, "manualSeed");
  Export<getRngState>(env, exports, "getRngState");
  Export<setRngState>(env, exports, "setRngState");
  Export<setNumThreads>(env, exports, "setNumThreads");
  Export<getNumThreads>(env, exports, "getNumThreads");
  Export<version>(env, exports, "version");
  Export<cudaAvailable>(env, exports, "cudaAvailable");
  InitOps(env, exports);
  InitNN(env, exports);
  InitIO(env, exports);
  InitDist(env, exports);
  InitPacked(env, exports);
  return exports;
}

}  // namespace prime

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return prime::Init(env, exports); }
NODE_API_MODULE(prime_native, InitModule)
