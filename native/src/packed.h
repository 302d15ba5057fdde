// XNNPACK prepacked linear (packed.cc): a float32 weight packed once, run on few rows.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>
#include <memory>
#include <vector>

namespace prime {

// A weight (out, in) in `contexts.size()` packed pieces of consecutive output rows:
// piece p holds rows [starts[p], starts[p] + sizes[p]).
struct PackedLinear {
  int64_t out = 0, in = 0;
  std::vector<c10::IValue> contexts;
  std::vector<int64_t> starts, sizes;
};

bool PackedLinearAvailable();
std::shared_ptr<PackedLinear> PackLinear(const at::Tensor& w, const c10::optional<at::Tensor>& bias, int64_t parts);
// x (rows, in) float32 CPU → x · wᵀ + b (rows, out), the pieces in parallel (one per intra-op thread).
at::Tensor RunPacked(const at::Tensor& x, const PackedLinear& pk);
// The packed linear of a handle made by packLinear (a JS external); a TypeError for anything else.
std::shared_ptr<PackedLinear> PackedValue(Napi::Env env, Napi::Value v);

}  // namespace prime
