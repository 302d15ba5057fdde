/**
 * prime-ts/lm — Qwen2/Llama-family causal LMs: Hugging Face checkpoints and tokenizers,
 * per-token log-probs, and batched sampling with a KV cache. See src/lm/README.md.
 */
export { parseConfig, makeConfig, countParameters, ConfigError, SUPPORTED_MODEL_TYPES } from './config.js';
export type { LMConfig, ConfigSpec, ModelType, RopeScaling } from './config.js';
export { CausalLM, DecoderLayer, positionIdsFromMask, layerReference } from './model.js';
export type { CausalLMOptions, DecodeWeights, ForwardOptions, Init } from './model.js';
export { KVCache, type KVCacheMode } from './kvcache.js';
export { Tokenizer, TokenizerError, TOKENIZER_FILES, type ChatMessage } from './tokenizer.js';
export { loadPretrained, loadModel, loadConfig, loadGenerationConfig, savePretrained, CheckpointError } from './checkpoint.js';
export type { Pretrained, LoadOptions, SaveOptions, GenerationConfig } from './checkpoint.js';
export { logprobs, sharedPromptLogprobs, type LogprobsOptions, type LogprobsResult, type SharedPromptOptions } from './logprobs.js';
export { generate, sampleSeed, type GenerateOptions, type Sample, type FinishReason } from './generate.js';
export { leftPad, packSequences, type PackedBatch } from './batch.js';
export { resolveDevice, type Device } from './device.js';
export { convertGguf, readGguf, readGgufTensor, ggufConfig, ggufTokenizer, unpermuteRows, GgufError, GGUF_ARCHITECTURES } from './gguf.js';
export type { GgufFile, GgufTensor, ConvertOptions, ConvertResult } from './gguf.js';
export { GGML_TYPES, ggmlTypeName, type GgmlType } from './gguf-dequant.js';
