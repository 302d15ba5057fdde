// torch.distributed's engine (c10d) for prime-ts: TCPStore rendezvous and a process group —
// Gloo on CPU, NCCL when libtorch has CUDA and NCCL headers. Every collective blocks until it
// is done or its timeout expires; a timeout or a dead peer becomes a JS Error (through Guard<>),
// never a crash or a hang.
//
// Wire compatibility: the store keys are laid out as torch.distributed.init_process_group lays
// them out (TCPStore -> PrefixStore("default_pg") -> PrefixStore("0"), then the store-based
// barrier), so one job may mix prime-ts ranks and PyTorch ranks.
#include "common.h"
#include <torch/csrc/autograd/variable.h>
#include <c10/core/GradMode.h>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

// Gloo's headers come with Debian's libgloo-dev (or an official libtorch's include/). Without
// them the addon still builds; init reports what is missing.
#if __has_include(<gloo/config.h>)
#define USE_C10D_GLOO 1
#define PRIME_HAS_GLOO 1
#endif
// ProcessGroupNCCL's headers include the CUDA runtime's, which need the toolkit's crt/ headers
// (shipped with nvcc, not with PyPI's CUDA runtime wheels: pip install nvidia-cuda-nvcc adds them).
#if defined(PRIME_HAS_CUDA) && __has_include(<nccl.h>) && __has_include(<crt/host_config.h>)
#define USE_C10D_NCCL 1
#define PRIME_HAS_NCCL 1
#endif

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef PRIME_HAS_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef PRIME_HAS_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace prime {

using Ms = std::chrono::milliseconds;

namespace {

// libtorch 2.0 split ProcessGroup into a dispatching ProcessGroup and per-device Backends
// (ProcessGroupGloo/NCCL derive from c10d::Backend); the collectives used here are the same
// virtual methods on either, so the backend object is held directly.
#if PRIME_TORCH_AT_LEAST(2, 0)
using PgBase = c10d::Backend;
#else
using PgBase = c10d::ProcessGroup;
#endif

struct DistState {
  c10::intrusive_ptr<c10d::Store> store;  // the TCPStore (rank 0 hosts its server)
  c10::intrusive_ptr<PgBase> pg;
  std::string backend;
  int rank = 0;
  int size = 1;
  Ms timeout{0};
  // Set by the first failed collective: after a timeout or a lost peer the group's
  // connections are in an unknown state, so later calls fail at once with this message.
  std::string broken;
};

// Held on the heap and never destroyed at process exit: a process group's destructor joins its
// worker threads, which may be blocked on a peer that is gone. destroyProcessGroup() frees it.
DistState* g = nullptr;

DistState& Group(const char* what) {
  if (!g) throw std::runtime_error(std::string("distributed.") + what + ": no process group; call initProcessGroup() first");
  if (!g->broken.empty())
    throw std::runtime_error(std::string("distributed.") + what + " on rank " + std::to_string(g->rank) +
                             ": the process group failed earlier and cannot be used (" + g->broken +
                             "); call destroyProcessGroup()");
  return *g;
}

// A timeout argument: a positive number of milliseconds, or null/undefined for the group's.
Ms TimeoutArg(const Napi::CallbackInfo& info, size_t i, Ms dflt) {
  if (IsNull(info, i)) return dflt;
  int64_t ms = I(info, i);
  if (ms <= 0) throw Napi::RangeError::New(info.Env(), "timeoutMs must be a positive number of milliseconds");
  return Ms(ms);
}

// Waits for `work` at most `timeout`; a failure (timeout, closed connection, bad input detected by
// the backend) is rethrown with the operation, rank and timeout, and marks the group broken.
void Await(const c10::intrusive_ptr<c10d::Work>& work, DistState& s, const char* what, Ms timeout) {
  std::string msg;
  try {
    if (work->wait(timeout)) return;
    msg = "the operation was aborted";
  } catch (const c10::Error& e) {
    msg = e.what_without_backtrace();
  } catch (const std::exception& e) {
    msg = e.what();
  }
  // c10::Error messages carry a trailing newline and sometimes an "Exception raised from" tail.
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  s.broken = std::string(what) + ": " + msg;
  throw std::runtime_error("distributed." + std::string(what) + " failed on rank " + std::to_string(s.rank) + " of " +
                           std::to_string(s.size) + " (timeout " + std::to_string(timeout.count()) + " ms): " + msg);
}

enum class Op { Sum, Avg, Max, Min, Product };

Op ParseOp(const std::string& s) {
  if (s == "sum") return Op::Sum;
  if (s == "avg") return Op::Avg;
  if (s == "max") return Op::Max;
  if (s == "min") return Op::Min;
  if (s == "product") return Op::Product;
  throw std::invalid_argument("Unknown reduce op: " + s + " (expected sum, avg, max, min or product)");
}

c10d::ReduceOp ToC10d(Op op) {
  switch (op) {
    case Op::Max: return c10d::ReduceOp::MAX;
    case Op::Min: return c10d::ReduceOp::MIN;
    case Op::Product: return c10d::ReduceOp::PRODUCT;
    default: return c10d::ReduceOp::SUM;  // avg = sum, then divide by the world size
  }
}

bool IsGloo(const DistState& s) { return s.backend == "gloo"; }

// Gloo in libtorch 1.13 reduces and moves only these dtypes ("Invalid scalar type" otherwise).
bool GlooHandles(at::ScalarType st) {
  switch (st) {
    case at::kFloat: case at::kDouble: case at::kHalf: case at::kLong: case at::kInt: case at::kChar: case at::kByte:
      return true;
    default:
      return false;
  }
}

// bfloat16 is reduced in float32 and rounded back once (also more exact than a bf16 sum).
bool NeedsUpcast(const DistState& s, const at::Tensor& t) { return IsGloo(s) && t.scalar_type() == at::kBFloat16; }

void CheckOperand(const DistState& s, const at::Tensor& t, Op op, const char* what) {
  at::ScalarType st = t.scalar_type();
  if (op == Op::Avg && !at::isFloatingType(st))
    throw std::invalid_argument(std::string("distributed.") + what + ": avg needs a floating-point tensor, got " +
                                DtypeName(st) + " (reduce with sum and divide as you need)");
  if (IsGloo(s) && !GlooHandles(st) && st != at::kBFloat16)
    throw std::invalid_argument(std::string("distributed.") + what + ": gloo cannot reduce " + DtypeName(st) +
                                " tensors (it reduces float32, float64, float16, bfloat16 via float32, int64, int32, int8, uint8)");
  if (IsGloo(s) && !t.device().is_cpu())
    throw std::invalid_argument(std::string("distributed.") + what + ": the gloo backend here takes CPU tensors, got one on " + t.device().str());
}

// For collectives that only move bytes (broadcast, allGather): a dtype Gloo does not know is
// moved under a same-width dtype it does, bit for bit.
at::Tensor BytesView(const DistState& s, const at::Tensor& t, const char* what) {
  if (IsGloo(s) && !t.device().is_cpu())
    throw std::invalid_argument(std::string("distributed.") + what + ": the gloo backend here takes CPU tensors, got one on " + t.device().str());
  if (!IsGloo(s) || GlooHandles(t.scalar_type())) return t;
  switch (t.element_size()) {
    case 1: return t.view(at::kByte);
    case 2: return t.view(at::kHalf);
    case 4: return t.view(at::kInt);
    case 8: return t.view(at::kLong);
    default:
      throw std::invalid_argument(std::string("distributed.") + what + ": gloo cannot move " + DtypeName(t.scalar_type()) + " tensors");
  }
}

// Reduces `buf` (dense, contiguous) in place across the group.
c10::intrusive_ptr<c10d::Work> StartAllReduce(DistState& s, at::Tensor& buf, Op op, Ms timeout) {
  std::vector<at::Tensor> v{buf};
  c10d::AllreduceOptions o;
  o.reduceOp = ToC10d(op);
  o.timeout = timeout;
  return s.pg->allreduce(v, o);
}

// The world size as divisor for avg, applied after the sum.
void FinishAvg(DistState& s, at::Tensor& buf, Op op) {
  if (op == Op::Avg) buf.div_(s.size);
}

}  // namespace

// ---------------------------------------------------------------- life cycle

// initProcessGroup(backend, rank, worldSize, masterAddr, masterPort, timeoutMs)
static Napi::Value initProcessGroup(const Napi::CallbackInfo& info) {
  if (g) throw std::runtime_error("distributed.initProcessGroup: a process group is already initialized (rank " +
                                  std::to_string(g->rank) + " of " + std::to_string(g->size) +
                                  "); call destroyProcessGroup() first");
  std::string backend = Str(info, 0);
  int64_t rank = I(info, 1), size = I(info, 2);
  std::string addr = Str(info, 3);
  int64_t port = I(info, 4);
  Ms timeout(I(info, 5));
  if (size < 1) throw std::invalid_argument("distributed.initProcessGroup: worldSize must be >= 1, got " + std::to_string(size));
  if (rank < 0 || rank >= size)
    throw std::invalid_argument("distributed.initProcessGroup: rank must be in [0, " + std::to_string(size) + "), got " + std::to_string(rank));
  if (port < 1 || port > 65535) throw std::invalid_argument("distributed.initProcessGroup: masterPort must be in 1..65535, got " + std::to_string(port));
  if (timeout.count() <= 0) throw std::invalid_argument("distributed.initProcessGroup: timeoutMs must be positive");
  if (backend != "gloo" && backend != "nccl")
    throw std::invalid_argument("Unknown distributed backend: " + backend + " (expected gloo or nccl)");
#ifndef PRIME_HAS_GLOO
  if (backend == "gloo")
    throw std::runtime_error("distributed: this addon was built without Gloo's headers; install libgloo-dev (Debian) and rebuild");
#endif
#ifndef PRIME_HAS_NCCL
  if (backend == "nccl")
    throw std::runtime_error("distributed: the nccl backend needs a libtorch with CUDA and NCCL, and the CUDA toolkit's headers at build time (this addon was built without); use gloo");
#endif

  auto s = std::make_unique<DistState>();
  s->backend = backend;
  s->rank = static_cast<int>(rank);
  s->size = static_cast<int>(size);
  s->timeout = timeout;

  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(port);
  so.isServer = rank == 0;
  so.numWorkers = static_cast<std::size_t>(size);
  so.waitWorkers = true;  // rank 0 returns once every rank has connected, or throws at the timeout
  so.timeout = timeout;
  so.multiTenant = true;
  try {
    s->store = c10::make_intrusive<c10d::TCPStore>(addr, so);
  } catch (const c10::Error& e) {
    throw std::runtime_error("distributed.initProcessGroup: rendezvous at " + addr + ":" + std::to_string(port) + " failed on rank " +
                             std::to_string(rank) + " of " + std::to_string(size) + " (timeout " + std::to_string(timeout.count()) +
                             " ms): " + e.what_without_backtrace());
  }
  auto defaultPg = c10::make_intrusive<c10d::PrefixStore>("default_pg", s->store);
#if PRIME_TORCH_AT_LEAST(2, 0)
  // torch 2.x's init_process_group (checked against 2.15): PrefixStore("{group_name}/") with the
  // default group's name "0", then PrefixStore("{device}/") for the CPU backend.
  auto groupStore = c10::make_intrusive<c10d::PrefixStore>("cpu/", c10::make_intrusive<c10d::PrefixStore>("0/", defaultPg));
#else
  auto groupStore = c10::make_intrusive<c10d::PrefixStore>("0", defaultPg);
#endif

  try {
#ifdef PRIME_HAS_GLOO
    if (backend == "gloo") {
      auto o = c10d::ProcessGroupGloo::Options::create(timeout);
      // GLOO_SOCKET_IFNAME (comma-separated interfaces) as in PyTorch; else loopback for a
      // loopback master (one machine), else the address this host's name resolves to.
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      if (ifname && *ifname) {
        std::string list = ifname;
        size_t start = 0;
        while (start <= list.size()) {
          size_t end = list.find(',', start);
          if (end == std::string::npos) end = list.size();
          if (end > start) o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(list.substr(start, end - start)));
          start = end + 1;
        }
      } else if (addr.rfind("127.", 0) == 0 || addr == "localhost") {
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else if (addr == "::1") {
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("::1"));
      } else {
        o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      s->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(groupStore, s->rank, s->size, o);
    }
#endif
#ifdef PRIME_HAS_NCCL
    if (backend == "nccl") {
      // Without blocking wait, Work::wait() only orders CUDA streams and ignores its timeout.
      ::setenv("NCCL_BLOCKING_WAIT", "1", 0);
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = timeout;
      s->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(groupStore, s->rank, s->size, o);
    }
#endif
  } catch (const c10::Error& e) {
    throw std::runtime_error("distributed.initProcessGroup: creating the " + backend + " process group failed on rank " +
                             std::to_string(rank) + " of " + std::to_string(size) + " (connecting to the other ranks, timeout " +
                             std::to_string(timeout.count()) + " ms): " + e.what_without_backtrace());
  }

  // torch.distributed's store-based barrier after creating the default group: every rank has
  // its group before any returns. torch 2.x does it only with TORCH_DIST_INIT_BARRIER=1 (and
  // keys it by the group name), and no longer publishes a sequence number at init.
#if PRIME_TORCH_AT_LEAST(2, 0)
  const char* initBarrier = std::getenv("TORCH_DIST_INIT_BARRIER");
  const bool barrier = initBarrier && std::string(initBarrier) == "1";
  const std::string key = "store_based_barrier_key:0";
#else
  const bool barrier = true;
  const std::string key = "store_based_barrier_key:1";
#endif
  if (barrier) {
    defaultPg->add(key, 1);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int64_t n = defaultPg->add(key, 0);
      if (n >= size) break;
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("distributed.initProcessGroup: timed out after " + std::to_string(timeout.count()) +
                                 " ms waiting for all ranks (" + std::to_string(n) + " of " + std::to_string(size) + " arrived)");
      std::this_thread::sleep_for(Ms(10));
    }
  }
#if !PRIME_TORCH_AT_LEAST(2, 0)
  // As torch.distributed 1.13 does next: rank 0 publishes the group's sequence number, others read it.
  s->pg->setSequenceNumberForGroup();
#endif
  g = s.release();
  return info.Env().Undefined();
}

// Frees the group (joining its threads) and the store. Call it when every rank is done: rank 0
// hosts the store. Safe to call when nothing is initialized.
static Napi::Value destroyProcessGroup(const Napi::CallbackInfo& info) {
  DistState* s = g;
  g = nullptr;
  delete s;
  return info.Env().Undefined();
}

static Napi::Value isInitialized(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), g != nullptr); }
static Napi::Value getRank(const Napi::CallbackInfo& info) {
  if (!g) throw std::runtime_error("distributed.getRank: no process group; call initProcessGroup() first");
  return Napi::Number::New(info.Env(), g->rank);
}
static Napi::Value getWorldSize(const Napi::CallbackInfo& info) {
  if (!g) throw std::runtime_error("distributed.getWorldSize: no process group; call initProcessGroup() first");
  return Napi::Number::New(info.Env(), g->size);
}
static Napi::Value getBackend(const Napi::CallbackInfo& info) {
  if (!g) throw std::runtime_error("distributed.getBackend: no process group; call initProcessGroup() first");
  return Napi::String::New(info.Env(), g->backend);
}
// Which backends this build can create.
static Napi::Value backends(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env());
  uint32_t n = 0;
#ifdef PRIME_HAS_GLOO
  a.Set(n++, Napi::String::New(info.Env(), "gloo"));
#endif
#ifdef PRIME_HAS_NCCL
  a.Set(n++, Napi::String::New(info.Env(), "nccl"));
#endif
  (void)n;
  return a;
}

// ---------------------------------------------------------------- collectives

// allReduce(tensor, op, timeoutMs|null): reduces `tensor` in place.
static Napi::Value allReduce(const Napi::CallbackInfo& info) {
  DistState& s = Group("allReduce");
  at::Tensor& t = T(info, 0);
  Op op = ParseOp(Str(info, 1));
  Ms timeout = TimeoutArg(info, 2, s.timeout);
  CheckOperand(s, t, op, "allReduce");
  at::NoGradGuard ng;
  bool direct = t.is_contiguous() && !NeedsUpcast(s, t);
  at::Tensor buf = direct ? t : (NeedsUpcast(s, t) ? t.to(at::kFloat).contiguous() : t.contiguous());
  Await(StartAllReduce(s, buf, op, timeout), s, "allReduce", timeout);
  FinishAvg(s, buf, op);
  if (!direct) t.copy_(buf);
  else torch::autograd::impl::bump_version(t);  // written in place by the backend, not through ATen
  return info.Env().Undefined();
}

// allReduceBucketed(tensors, op, bucketBytes, timeoutMs|null) -> {buckets, bytes}
// For gradients: tensors of one dtype are packed in order into flat buckets of at most
// `bucketBytes` (a larger tensor is a bucket of its own), each bucket is reduced as one
// message, and the results are copied back. Every rank must pass the same shapes and dtypes in
// the same order. At most two buckets are in flight, so packing the next overlaps the current
// reduction and extra memory stays under two buckets.
static Napi::Value allReduceBucketed(const Napi::CallbackInfo& info) {
  DistState& s = Group("allReduceBucketed");
  std::vector<at::Tensor> ts = Tensors(info, 0);
  Op op = ParseOp(Str(info, 1));
  int64_t cap = I(info, 2);
  Ms timeout = TimeoutArg(info, 3, s.timeout);
  if (cap <= 0) throw std::invalid_argument("distributed.allReduceBucketed: bucketBytes must be positive");
  for (auto& t : ts) CheckOperand(s, t, op, "allReduceBucketed");
  at::NoGradGuard ng;

  // Plan: per dtype, consecutive tensors fill a bucket until the next would overflow it.
  struct Bucket {
    std::vector<size_t> members;
    int64_t bytes = 0;
  };
  std::vector<Bucket> plan;
  std::vector<std::pair<at::ScalarType, size_t>> open;  // dtype -> index of its open bucket
  for (size_t i = 0; i < ts.size(); i++) {
    int64_t b = ts[i].numel() * static_cast<int64_t>(ts[i].element_size());
    if (b == 0) continue;
    at::ScalarType st = ts[i].scalar_type();
    auto it = std::find_if(open.begin(), open.end(), [&](auto& p) { return p.first == st; });
    if (it != open.end() && plan[it->second].bytes + b <= cap) {
      plan[it->second].members.push_back(i);
      plan[it->second].bytes += b;
      continue;
    }
    plan.push_back(Bucket{{i}, b});
    if (it != open.end()) it->second = plan.size() - 1;
    else open.emplace_back(st, plan.size() - 1);
  }

  struct InFlight {
    size_t bucket;
    at::Tensor buf;
    c10::intrusive_ptr<c10d::Work> work;
  };
  // Copies a finished bucket back into its tensors.
  auto finish = [&](InFlight& f) {
    Await(f.work, s, "allReduceBucketed", timeout);
    FinishAvg(s, f.buf, op);
    const Bucket& b = plan[f.bucket];
    if (b.members.size() == 1 && f.buf.data_ptr() == ts[b.members[0]].data_ptr()) {  // reduced in place
      torch::autograd::impl::bump_version(ts[b.members[0]]);
      return;
    }
    int64_t off = 0;
    for (size_t i : b.members) {
      at::Tensor& t = ts[i];
      t.copy_(f.buf.narrow(0, off, t.numel()).view(t.sizes()));
      off += t.numel();
    }
  };
  std::vector<InFlight> q;
  int64_t total = 0;
  for (size_t bi = 0; bi < plan.size(); bi++) {
    const Bucket& b = plan[bi];
    at::Tensor& first = ts[b.members[0]];
    at::Tensor buf;
    if (b.members.size() == 1 && first.is_contiguous() && !NeedsUpcast(s, first)) {
      buf = first;
    } else {
      std::vector<at::Tensor> flat;
      flat.reserve(b.members.size());
      for (size_t i : b.members) flat.push_back(ts[i].reshape({-1}));
      buf = at::cat(flat);  // (sum of numel,)
      if (NeedsUpcast(s, buf)) buf = buf.to(at::kFloat);
    }
    total += b.bytes;
    if (q.size() == 2) {
      finish(q.front());
      q.erase(q.begin());
    }
    q.push_back(InFlight{bi, buf, StartAllReduce(s, buf, op, timeout)});
  }
  for (auto& f : q) finish(f);

  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("buckets", Napi::Number::New(info.Env(), static_cast<double>(plan.size())));
  r.Set("bytes", Napi::Number::New(info.Env(), static_cast<double>(total)));
  return r;
}

// broadcast(tensor, src, timeoutMs|null): every rank's `tensor` takes rank `src`'s values.
static Napi::Value broadcast(const Napi::CallbackInfo& info) {
  DistState& s = Group("broadcast");
  at::Tensor& t = T(info, 0);
  int64_t src = I(info, 1);
  Ms timeout = TimeoutArg(info, 2, s.timeout);
  if (src < 0 || src >= s.size)
    throw std::invalid_argument("distributed.broadcast: src must be in [0, " + std::to_string(s.size) + "), got " + std::to_string(src));
  at::NoGradGuard ng;
  at::Tensor buf = t.is_contiguous() ? t : t.contiguous();
  std::vector<at::Tensor> v{BytesView(s, buf, "broadcast")};
  c10d::BroadcastOptions o;
  o.rootRank = src;
  o.timeout = timeout;
  Await(s.pg->broadcast(v, o), s, "broadcast", timeout);
  if (!buf.is_same(t)) t.copy_(buf);
  else torch::autograd::impl::bump_version(t);  // written in place by the backend, not through ATen
  return info.Env().Undefined();
}

// allGather(tensor, timeoutMs|null) -> [rank 0's tensor, rank 1's, ...] (new tensors). Every
// rank must pass the same shape and dtype.
static Napi::Value allGather(const Napi::CallbackInfo& info) {
  DistState& s = Group("allGather");
  at::Tensor& t = T(info, 0);
  Ms timeout = TimeoutArg(info, 1, s.timeout);
  at::NoGradGuard ng;
  std::vector<at::Tensor> in{BytesView(s, t.contiguous(), "allGather")};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < s.size; r++) out[0].push_back(at::empty_like(in[0], at::MemoryFormat::Contiguous));
  c10d::AllgatherOptions o;
  o.timeout = timeout;
  Await(s.pg->allgather(out, in, o), s, "allGather", timeout);
  for (auto& x : out[0]) x = x.view(t.scalar_type());
  return WrapList(info.Env(), out[0]);
}

// barrier(timeoutMs|null): returns once every rank has entered it.
static Napi::Value barrier(const Napi::CallbackInfo& info) {
  DistState& s = Group("barrier");
  Ms timeout = TimeoutArg(info, 0, s.timeout);
  c10d::BarrierOptions o;
  o.timeout = timeout;
  Await(s.pg->barrier(o), s, "barrier", timeout);
  return info.Env().Undefined();
}

void InitDist(Napi::Env env, Napi::Object exports) {
  Napi::Object d = Napi::Object::New(env);
  Export<initProcessGroup>(env, d, "initProcessGroup");
  Export<destroyProcessGroup>(env, d, "destroyProcessGroup");
  Export<isInitialized>(env, d, "isInitialized");
  Export<getRank>(env, d, "getRank");
  Export<getWorldSize>(env, d, "getWorldSize");
  Export<getBackend>(env, d, "getBackend");
  Export<backends>(env, d, "backends");
  Export<allReduce>(env, d, "allReduce");
  Export<allReduceBucketed>(env, d, "allReduceBucketed");
  Export<broadcast>(env, d, "broadcast");
  Export<allGather>(env, d, "allGather");
  Export<barrier>(env, d, "barrier");
  exports.Set("dist", d);
}

}  // namespace prime
