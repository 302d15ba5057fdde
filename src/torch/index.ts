/**
 * prime-ts/torch — a TypeScript tensor library with autograd, bound to libtorch.
 *
 * Shape legend used across prime-ts: B prompts, K samples per prompt, T tokens, V vocab,
 * H heads, D model width.
 */
export { Tensor, DTYPE_BYTES } from './tensor.js';
export type { DType, Device, Shape, Scalar, TensorLike, TypedArray, NestedArray, CreateOptions } from './tensor.js';
export * from './creation.js';
export * from './functional.js';
export { tidy, keep, dispose } from './scope.js';
export { noGrad, enableGrad, isGradEnabled, gradcheck, type GradcheckResult } from './autograd.js';
export * as nn from './nn.js';
export { Module, Linear, Embedding, RMSNorm, LayerNorm, Dropout } from './nn.js';
export * as optim from './optim.js';
export { AdamW, SGD, MasterWeights, clipGradNorm, gradNorm, constantLr, linearWarmup, cosineSchedule, type LrSchedule, type Optimizer } from './optim.js';
export * from './safetensors.js';
export { PackedLinear, packLinear, packedLinearAvailable } from './packed.js';
export * as distributed from './distributed.js';
export { nativeAvailable, nativeLoadError, NativeAddonError } from './native.js';
