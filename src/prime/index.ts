/**
 * prime-ts — PRIME (Process Reinforcement through Implicit Rewards) in TypeScript.
 *
 * The algorithms are pure functions (rewards, advantages, PPO, filter); the trainer orchestrates
 * them; data, config, SFT, evaluation and the demo are here too. Lower layers: prime-ts/torch,
 * prime-ts/lm, prime-ts/verify.
 */
export * from './masked.js';
export * from './rewards.js';
export * from './advantages.js';
export * from './ppo.js';
export * from './filter.js';
export * from './data.js';
export * from './config.js';
export { PrimeTrainer, TrainingDivergedError, type RolloutGroup, type TrainerOptions } from './trainer.js';
export { defaultVerifier, type Verifier, type VerifierResult } from './verifier.js';
export { runSft, loadSftExamples, tokenizeSft, type SftExample, type SftResult } from './sft.js';
export { evaluateModel, formatFailures, type EvalOptions, type EvalResult, type EvalFailure } from './evaluate.js';
export * from './implicit_prm.js';
export { bestOfN, bestOfNAccuracy, pickBestOfN, pickWeightedMajority, runBestOfN, bestOfNCommand, type BestOfNOptions, type BestOfNResult, type RunBestOfNOptions } from './bestofn.js';
export { fitImplicitPrm, evaluateImplicitPrm, sampleLabelledRollouts, takeGroups, runPrmFit, type LabelledRollouts, type PrmFitOptions, type PrmFitEpoch, type PrmFitResult, type PrmRanking, type SampleOptions } from './prm_fit.js';
export {
  writeCheckpoint,
  latestCheckpoint,
  latestLoadableCheckpoint,
  readCheckpointState,
  checkCheckpoint,
  removeStaleTemporaries,
  checkpointName,
  CheckpointStateError,
  type CheckpointState,
  type LoadableCheckpoint,
} from './checkpoint.js';
export { convertMathSet, mathSetRow, gsm8kAnswer, BOXED_INSTRUCTION, MATH_SETS, type MathSet } from './math-sets.js';
export { runConvert, CONVERT_USAGE } from './convert.js';
export { MetricsLog, readMetrics, type Metrics } from './metrics.js';
export { runDemo, DEMO, type DemoSettings } from './demo/run.js';
export { generateProblem, generateSplits, problemToRow, type ArithmeticOptions, type ArithmeticProblem } from './demo/arithmetic.js';
