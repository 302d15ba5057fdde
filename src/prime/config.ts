/**
 * PRIME run configuration: one schema, declared once as data (key, type, default, meaning and where
 * the default comes from), read from YAML with dotted `key=value` overrides from the command line,
 * validated up front with errors that name the key.
 *
 * Precedence: schema defaults < YAML file < overrides (later overrides win over earlier ones).
 * Sources of defaults: "paper" = PRIME (Cui et al. 2025, arXiv 2502.01456); "reference" = its
 * reference code / 7B recipe (DESIGN.md §3); "chosen" = picked here (often for small CPU runs).
 */
import { readFileSync } from 'node:fs';
import { Document, isMap, isPair, isScalar, isSeq, LineCounter, parse as parseYaml, parseDocument } from 'yaml';
import type { Node as YamlNode, YAMLMap } from 'yaml';

// ---------------------------------------------------------------------------------------------
// The typed configuration (field names are the YAML keys)

export type Dtype = 'float32' | 'bfloat16';
/** A model's own dtype key: '' = model.dtype. */
export type ModelDtype = '' | Dtype;
export type AdvantageName = 'prime' | 'rloo' | 'grpo' | 'drgrpo';

export interface PrimeConfig {
  model: {
    path: string;
    prm_path: string;
    ref_path: string;
    dtype: Dtype;
    ref_dtype: ModelDtype;
    device: string;
  };
  data: {
    train_files: string[];
    val_files: string[];
    max_prompt_length: number;
    max_response_length: number;
    seed: number;
  };
  rollout: {
    n: number;
    temperature: number;
    top_p: number;
    top_k: number;
    batch_prompts: number;
    oversample: number;
    max_rounds: number;
    stop: string[];
    micro_batch: number;
    seed_per_prompt: boolean;
    continuous_batching: boolean;
    buffer: 'prompts' | 'responses';
  };
  filter: {
    enable: boolean;
    low: number;
    high: number;
    drop_truncated: boolean;
  };
  verify: {
    code_reward: 'all' | 'fraction';
    code_timeout: number;
    /** YAML `verify: { math: { extraction } }`; key `verify.math.extraction`. */
    'math.extraction': 'strict' | 'lenient';
  };
  reward: {
    overlong_buffer_len: number;
    overlong_penalty_factor: number;
    functions: RewardFunctionSpec[];
  };
  algorithm: {
    advantage: AdvantageName;
    beta: number;
    granularity: 'token' | 'whole';
    prm_update: 'after' | 'before' | 'none';
    process_reward_norm: 'batch_norm' | 'none';
    process_baseline: 'paper' | 'code';
    outcome_coef: number;
    process_coef: number;
    gamma: number;
    whiten: boolean;
    kl_coef: number;
    kl_estimator: 'k1' | 'k3';
    kl_mode: 'loss' | 'reward';
    entropy_coef: number;
    process_return: 'sum' | 'min';
    min_form_temperature: number;
    kl_ctrl: 'fixed' | 'adaptive';
    kl_target: number;
    kl_horizon: number;
  };
  actor: {
    lr: number;
    weight_decay: number;
    grad_clip: number;
    ppo_epochs: number;
    mini_batch: number;
    micro_batch: number;
    clip_eps: number;
    clip_low: number;
    clip_high: number;
    loss_agg: 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-sum-norm';
    warmup_steps: number;
    gradient_checkpointing: boolean;
    dtype: ModelDtype;
  };
  prm: {
    lr: number;
    weight_decay: number;
    grad_clip: number;
    mini_batch: number;
    epochs: number;
    micro_batch: number;
    probe_every: number;
    probe_prompts: number;
    gradient_checkpointing: boolean;
    dtype: ModelDtype;
    loss: 'ce' | 'dpo';
    rpo_alpha: number;
    replay_steps: number;
  };
  trainer: {
    total_steps: number;
    save_every: number;
    eval_every: number;
    output_dir: string;
    seed: number;
    log_every: number;
    resume: boolean;
    threads: number;
    dist_timeout_s: number;
    dist_backend: 'auto' | 'gloo' | 'nccl';
    val_before_train: boolean;
    keep_best: string;
  };
  eval: {
    greedy: boolean;
    samples: number;
  };
  sft: {
    lr: number;
    epochs: number;
    batch_size: number;
    micro_batch: number;
    warmup_steps: number;
    weight_decay: number;
    grad_clip: number;
    output_dir: string;
  };
  prm_fit: {
    prompts: number;
    heldout_prompts: number;
    epochs: number;
    mini_batch: number;
    output_dir: string;
  };
}

type Section = keyof PrimeConfig & string;
/** Every dotted key of PrimeConfig, e.g. 'algorithm.beta'. */
export type ConfigKey = { [S in Section]: `${S}.${keyof PrimeConfig[S] & string}` }[Section];
/** The TypeScript type of the option at a dotted key. */
export type ConfigValue<K extends ConfigKey> = K extends `${infer S extends Section}.${infer F}`
  ? F extends keyof PrimeConfig[S]
    ? PrimeConfig[S][F]
    : never
  : never;

export type OptionType = 'number' | 'integer' | 'string' | 'boolean' | 'enum' | 'string[]' | 'object[]';

/**
 * One term of the outcome reward (`reward.functions`): a built-in verifier by `name` (math, code,
 * … as registered in prime-ts/verify, or 'default' = chosen per row by its data_source/ability),
 * or a user `module` (a .js/.mjs file whose default export, or export `reward`, maps
 * (response, row) to a number or { score }); `weight` multiplies it in the sum.
 */
export interface RewardFunctionSpec {
  name?: string;
  module?: string;
  weight?: number;
}

export interface OptionSpec<K extends ConfigKey = ConfigKey> {
  key: K;
  type: OptionType;
  /** Allowed values of an enum. */
  values?: readonly string[];
  default: ConfigValue<K>;
  /** Must be set (non-empty) by the user. */
  required?: boolean;
  /** 'object[]': checks one element (i = its index); returns a problem (without the key) or null. */
  item?: (x: unknown, i: number) => string | null;
  /** Inclusive bounds for numbers; `gt` is an exclusive lower bound. */
  min?: number;
  max?: number;
  gt?: number;
  /** Meaning, and where the default comes from. */
  help: string;
}

const opt = <K extends ConfigKey>(spec: OptionSpec<K>): OptionSpec<K> => spec;

// ---------------------------------------------------------------------------------------------
// The schema

export const CONFIG_SCHEMA = [
  // model
  opt({ key: 'model.path', type: 'string', default: '', required: true, help: 'HF checkpoint dir of the SFT model; the policy starts here (and the PRM and reference unless set) (paper: all three from one SFT checkpoint)' }),
  opt({ key: 'model.prm_path', type: 'string', default: '', help: "checkpoint the implicit PRM π_φ starts from; '' = model.path (paper)" }),
  opt({ key: 'model.ref_path', type: 'string', default: '', help: "checkpoint of the frozen reference π_ref; '' = model.path (paper)" }),
  opt({ key: 'model.dtype', type: 'enum', values: ['float32', 'bfloat16'], default: 'float32', help: "weight / compute dtype of every model unless actor.dtype, prm.dtype or model.ref_dtype says otherwise; trained models in bfloat16 get float32 master weights (see actor.dtype). No float16: it would need loss scaling, and libtorch 1.13 has no float16 matmul on CPU (chosen for CPU: float32)" }),
  opt({ key: 'model.ref_dtype', type: 'enum', values: ['', 'float32', 'bfloat16'], default: '', help: "weight / compute dtype of the frozen reference π_ref (never updated: no master weights; its log-probs are float32 either way); '' = model.dtype (verl: ref.fsdp_config.param_dtype)" }),
  opt({ key: 'model.device', type: 'string', default: 'cpu', help: "where policy, PRM, reference and their optimizer states live: cpu, cuda or cuda:N (needs an addon built against a CUDA libtorch: make build-cuda + PRIME_NATIVE) (chosen: cpu)" }),

  // data
  opt({ key: 'data.train_files', type: 'string[]', default: [], required: true, help: 'training prompt files (.parquet, .jsonl or .json) in the Eurus-2-RL-Data schema' }),
  opt({ key: 'data.val_files', type: 'string[]', default: [], help: 'validation prompt files; [] = no validation' }),
  opt({ key: 'data.max_prompt_length', type: 'integer', default: 1024, min: 1, help: 'prompt token limit after the chat template; longer prompts are dropped and counted (reference: 1024)' }),
  opt({ key: 'data.max_response_length', type: 'integer', default: 3072, min: 1, help: 'response token limit; longer responses are truncated (reference: 3072)' }),
  opt({ key: 'data.seed', type: 'integer', default: 1, help: 'seed of the per-epoch prompt shuffle (chosen)' }),

  // rollout
  opt({ key: 'rollout.n', type: 'integer', default: 4, min: 1, help: 'K, responses sampled per prompt; leave-one-out baselines need K ≥ 2 (paper: 4)' }),
  opt({ key: 'rollout.temperature', type: 'number', default: 1.0, gt: 0, help: 'sampling temperature (reference: 1.0)' }),
  opt({ key: 'rollout.top_p', type: 'number', default: 1.0, gt: 0, max: 1, help: 'nucleus sampling mass; 1 = off (reference: 1.0)' }),
  opt({ key: 'rollout.top_k', type: 'integer', default: 0, min: 0, help: 'sample among the k most likely tokens; 0 = off (reference: off)' }),
  opt({ key: 'rollout.batch_prompts', type: 'integer', default: 256, min: 1, help: 'prompt groups per training step, counted after filtering (reference: 256)' }),
  opt({ key: 'rollout.oversample', type: 'number', default: 2.0, min: 1, help: 'prompts drawn per rollout round = oversample × those still needed, since the filter drops some (chosen)' }),
  opt({ key: 'rollout.max_rounds', type: 'integer', default: 8, min: 1, help: 'rollout rounds per step before giving up on filling the batch and training on what was kept (chosen)' }),
  opt({ key: 'rollout.stop', type: 'string[]', default: [], help: 'extra stop strings besides EOS (chosen: none)' }),
  opt({ key: 'rollout.micro_batch', type: 'integer', default: 8, min: 1, help: 'sequences decoding at once (continuous batching: a finished sequence\'s row takes the next waiting sample); bounds memory (chosen for CPU)' }),
  opt({ key: 'rollout.seed_per_prompt', type: 'boolean', default: false, help: "sample each prompt's K responses from a generator of their own (generate's `seeds`; prompts still share a batch), seeded from (trainer.seed, step, round, the prompt's index in the round's draw), and shuffle PPO mini-batches from (trainer.seed, step, epoch): samples and updates then do not depend on batching or on how prompts are sharded over ranks, so N ranks reproduce a 1-process run up to float rounding. Always on with several ranks (chosen: off)" }),

  opt({ key: 'rollout.continuous_batching', type: 'boolean', default: false, help: "sample all of a round's prompts in one generate call with rollout.micro_batch rows decoding at once, a finished sequence's row taking the next waiting sample (vLLM-style continuous batching; faster when lengths differ). Off: micro-batches of rollout.micro_batch / n prompts in turn, as earlier releases, so a seed reproduces their samples (the README's replication figures) (chosen: off)" }),
  opt({ key: 'rollout.buffer', type: 'enum', values: ['prompts', 'responses'], default: 'prompts', help: "surplus groups kept by the filter beyond the batch: 'prompts' = re-queue their prompts, sampled again by the next step's policy so nothing stale is trained on (PRIME's reference); 'responses' = keep the groups, responses and log-probs from the older policy, for the next step (cheaper: no re-sampling)" }),

  // filter
  opt({ key: 'filter.enable', type: 'boolean', default: true, help: "online prompt filtering: keep a group only if its mean accuracy is in [low, high] (paper §3.4); DAPO's dynamic sampling (Yu et al. 2025: drop groups that are all right or all wrong, sample until the batch is full) is this filter with a band that drops only 0 and 1, e.g. low=0.01, high=0.99" }),
  opt({ key: 'filter.low', type: 'number', default: 0.2, min: 0, max: 1, help: 'lower bound of the kept accuracy band (paper: 0.2)' }),
  opt({ key: 'filter.high', type: 'number', default: 0.8, min: 0, max: 1, help: 'upper bound of the kept accuracy band (paper: 0.8)' }),
  opt({ key: 'filter.drop_truncated', type: 'boolean', default: false, help: 'also drop groups with a response cut at max_response_length (optional; chosen: off)' }),

  // verify
  opt({ key: 'verify.code_reward', type: 'enum', values: ['all', 'fraction'], default: 'all', help: "code outcome: 'all' = 1 only if every test passes, 'fraction' = share of tests passed (DESIGN §2.2: all; fraction is an option)" }),
  opt({ key: 'verify.code_timeout', type: 'number', default: 5, gt: 0, help: 'seconds per code test case in the sandbox (chosen)' }),
  opt({ key: 'verify.math.extraction', type: 'enum', values: ['strict', 'lenient'], default: 'strict', help: "how the math grader finds the answer: 'strict' = a \\boxed{} or an explicit marker (\"the answer is\", \"Answer:\"), as RL prompts ask for a box; 'lenient' = also the last math span or number, for evaluating models that do not box (chosen: strict)" }),

  // reward (shaping of the outcome score before the advantage)
  opt({ key: 'reward.overlong_buffer_len', type: 'integer', default: 0, min: 0, help: "DAPO's overlong reward shaping (Yu et al. 2025, eq. 13): over the last L tokens before data.max_response_length the outcome score gets a penalty growing linearly to −overlong_penalty_factor at the limit; the PRM still learns from the unshaped score; 0 = off (chosen: off; DAPO: 4096 of 20480)" }),
  opt({ key: 'reward.overlong_penalty_factor', type: 'number', default: 1.0, min: 0, help: "scale of the overlong penalty (DAPO: 1; verl's overlong_penalty_factor)" }),
  opt({ key: 'reward.functions', type: 'object[]', default: [], item: rewardFunctionProblem, help: "outcome reward as a weighted sum: [{ name: math, weight: 1 }, { module: ./my_reward.js, weight: 0.5 }]; 'name' = a verifier of prime-ts/verify (math, code, …; 'default' = by the row's data_source/ability), 'module' = a JS file (path from the working directory) exporting (response, row) => score; each term is logged as reward/<name>; [] = the default verifier alone" }),

  // algorithm
  opt({ key: 'algorithm.advantage', type: 'enum', values: ['prime', 'rloo', 'grpo', 'drgrpo'], default: 'prime', help: 'advantage estimator: prime = RLOO outcome + RLOO process returns; rloo = outcome only (paper baseline); grpo = group-normalized outcomes; drgrpo = Dr. GRPO (Liu et al. 2025): group-centered outcomes, no std normalization, never whitened (pair it with actor.loss_agg=seq-mean-token-sum-norm)' }),
  opt({ key: 'algorithm.beta', type: 'number', default: 0.05, gt: 0, help: 'β of the implicit PRM reward r_t = β·log(π_φ/π_ref) (PRIME paper §3; reference: 0.05)' }),
  opt({ key: 'algorithm.granularity', type: 'enum', values: ['token', 'whole'], default: 'token', help: "process reward per token, or 'whole' = the sum placed on the last token (reference: token)" }),
  opt({ key: 'algorithm.prm_update', type: 'enum', values: ['after', 'before', 'none'], default: 'after', help: "order of the PRM's update and the rewards it gives: 'after' = mini-batches in turn, each one's rewards from the forward that computes its loss (before its own update, after the earlier mini-batches'): one PRM forward (PRIME's released code; default); 'before' = prm.epochs of updates on the whole batch, then a second forward re-scores it (verl's port); 'none' = frozen PRM" }),
  opt({ key: 'algorithm.process_reward_norm', type: 'enum', values: ['batch_norm', 'none'], default: 'batch_norm', help: "'batch_norm' divides every token reward by the batch's largest |reverse cumulative sum| so process returns lie in [−1, 1] like the outcome and β acts only inside the PRM loss (PRIME reference default, prime_norm: batch_norm); 'none' = β·log-ratio as is" }),
  opt({ key: 'algorithm.process_baseline', type: 'enum', values: ['paper', 'code'], default: 'paper', help: "process RLOO baseline: 'paper' = r_t − mean_{j≠i} mean_s r_{j,s} (PRIME eq. 5); 'code' = r_t·K/(K−1) − Σ_j mean_s r_{j,s}/(K−1) as PRIME's released code (same response totals, token deviations K/(K−1)× larger)" }),
  opt({ key: 'algorithm.outcome_coef', type: 'number', default: 5, min: 0, help: 'c_o, weight of the outcome advantage in A = c_o·A_o + c_p·A_p (reference: 5)' }),
  opt({ key: 'algorithm.process_coef', type: 'number', default: 5, min: 0, help: 'c_p, weight of the process advantage; ignored by rloo/grpo (reference: 5)' }),
  opt({ key: 'algorithm.gamma', type: 'number', default: 1.0, min: 0, max: 1, help: 'discount γ of the process return Σ_{s≥t} γ^{s−t} r_s (paper: 1.0). Read as Rafailov et al. 2024 ("From r to Q*") read a DPO model, one token\'s implicit reward is an advantage V(s_{t+1}) − V(s_t), so the return at γ = 1 telescopes to the outcome − V(s_t) (the same for every token before a slip) and γ = 0 gives each token its own reward (README: measured both ways, with a perfect PRM too)' }),
  opt({ key: 'algorithm.whiten', type: 'boolean', default: true, help: 'whiten advantages over all valid tokens of the batch; ignored by drgrpo, which removes std normalization (reference code whitens)' }),
  opt({ key: 'algorithm.kl_coef', type: 'number', default: 0.0, min: 0, help: 'weight of the KL to π_ref; 0 = off (reference: 0)' }),
  opt({ key: 'algorithm.kl_estimator', type: 'enum', values: ['k1', 'k3'], default: 'k3', help: 'KL estimator: k1 = log ratio, k3 = ratio − 1 − log ratio (unbiased, ≥ 0) (chosen: k3)' }),
  opt({ key: 'algorithm.kl_mode', type: 'enum', values: ['loss', 'reward'], default: 'loss', help: 'apply the KL as a loss term or as a per-token reward penalty (chosen: loss)' }),
  opt({ key: 'algorithm.kl_ctrl', type: 'enum', values: ['fixed', 'adaptive'], default: 'fixed', help: "KL coefficient: 'fixed' = kl_coef throughout; 'adaptive' = Ziegler et al. 2019's controller starting at kl_coef: β ← β·(1 + clip(KL/kl_target − 1, ±0.2)·n/kl_horizon) after each step, KL = the step's token-mean estimate (kl_estimator) between the rollout policy and π_ref, n = its responses; logged as actor/kl_coef, kept in checkpoints (chosen: fixed)" }),
  opt({ key: 'algorithm.kl_target', type: 'number', default: 0.1, gt: 0, help: 'target per-token KL of the adaptive controller (verl: 0.1)' }),
  opt({ key: 'algorithm.kl_horizon', type: 'number', default: 10000, gt: 0, help: 'horizon of the adaptive controller in responses: larger = slower changes of β (verl, Ziegler et al. code: 10000)' }),
  opt({ key: 'algorithm.entropy_coef', type: 'number', default: 0.0, min: 0, help: 'entropy bonus weight in the policy loss (reference: 0)' }),
  opt({ key: 'algorithm.process_return', type: 'enum', values: ['sum', 'min'], default: 'sum', help: "prime's process return: 'sum' = Σ_{s≥t} γ^{s−t} r_s (PRIME); 'min' = PURE's min-form credit assignment (Cheng et al. 2025): rewards reweighted by a softmin over each response, r*_t = softmax(−r/T)_t·r_t, before the RLOO baseline and the return, so the return approaches the response's minimum reward (paper: sum)" }),
  opt({ key: 'algorithm.min_form_temperature', type: 'number', default: 0.1, gt: 0, help: "T of process_return=min, in reward units: → 0 = hard minimum, → ∞ = the mean reward. PURE's step rewards lie in [−1, 1]; so do process returns here under process_reward_norm=batch_norm, the rewards the softmin sees (with kl_mode=reward the KL penalty is among them) (PURE: 0.1)" }),

  // actor (policy)
  opt({ key: 'actor.lr', type: 'number', default: 5e-7, gt: 0, help: 'policy AdamW learning rate, constant; small models want larger (reference 7B: 5e-7)' }),
  opt({ key: 'actor.weight_decay', type: 'number', default: 0.01, min: 0, help: 'policy AdamW weight decay (reference: 0.01)' }),
  opt({ key: 'actor.grad_clip', type: 'number', default: 1.0, gt: 0, help: 'policy gradient-norm clip (reference: 1.0)' }),
  opt({ key: 'actor.ppo_epochs', type: 'integer', default: 1, min: 1, help: 'passes of PPO over each step’s batch (reference: 1)' }),
  opt({ key: 'actor.mini_batch', type: 'integer', default: 256, min: 1, help: 'sequences per policy optimizer step; must divide batch_prompts × n (reference: 256)' }),
  opt({ key: 'actor.micro_batch', type: 'integer', default: 4, min: 1, help: 'sequences per forward/backward (gradient accumulation); must divide mini_batch (chosen for CPU)' }),
  opt({ key: 'actor.clip_eps', type: 'number', default: 0.2, gt: 0, max: 0.999, help: 'PPO clip ε: ratio clipped to [1−ε, 1+ε]; clip_low / clip_high override either side (reference: 0.2)' }),
  opt({ key: 'actor.clip_low', type: 'number', default: 0, min: 0, max: 0.999, help: "lower clip ε_low: ratio ≥ 1 − ε_low; 0 = actor.clip_eps (as verl's clip_ratio_low defaults to clip_ratio) (DAPO: 0.2)" }),
  opt({ key: 'actor.clip_high', type: 'number', default: 0, min: 0, help: "upper clip ε_high: ratio ≤ 1 + ε_high; 0 = actor.clip_eps. DAPO's clip-higher (Yu et al. 2025) raises it to keep low-probability tokens exploring (DAPO: 0.28)" }),
  opt({ key: 'actor.loss_agg', type: 'enum', values: ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'], default: 'token-mean', help: "how per-token losses become the mini-batch loss (verl's loss_agg_mode): token-mean = every valid token weighs the same (DAPO's token-level loss; verl's default, kept here); seq-mean-token-mean = each response weighs the same (GRPO; what PRIME's released code effectively does); seq-mean-token-sum = per-response token sums, averaged; seq-mean-token-sum-norm = token sums / data.max_response_length, averaged (Dr. GRPO's constant normalizer). The policy, entropy and KL-loss terms are aggregated alike (chosen: token-mean)" }),
  opt({ key: 'actor.warmup_steps', type: 'integer', default: 0, min: 0, help: 'linear lr warmup steps; 0 = constant lr (reference: constant)' }),
  opt({ key: 'actor.gradient_checkpointing', type: 'boolean', default: false, help: 'recompute each policy decoder layer in the backward pass instead of storing its activations: less memory, ~1 more forward of time (chosen: off)' }),
  opt({ key: 'actor.dtype', type: 'enum', values: ['', 'float32', 'bfloat16'], default: '', help: "the policy's weight / compute dtype; '' = model.dtype. bfloat16 = mixed precision (Micikevicius et al. 2018; verl's actor.fsdp_config.mixed_precision param_dtype bf16): forward, backward and sampling in bf16, log-softmax and losses in float32, gradients accumulated / all-reduced / clipped in float32, AdamW on float32 master weights from which the bf16 weights are re-rounded after each step; checkpoints hold the masters (float32). Costs 2 bytes per parameter more than float32, saves activation memory and bf16-GEMM time (chosen: float32)" }),

  // prm
  opt({ key: 'prm.lr', type: 'number', default: 1e-6, gt: 0, help: 'implicit PRM AdamW learning rate (reference: 1e-6)' }),
  opt({ key: 'prm.weight_decay', type: 'number', default: 0.0, min: 0, help: 'PRM AdamW weight decay (reference: 0)' }),
  opt({ key: 'prm.grad_clip', type: 'number', default: 10.0, gt: 0, help: 'PRM gradient-norm clip (reference: 10)' }),
  opt({ key: 'prm.mini_batch', type: 'integer', default: 256, min: 1, help: 'sequences per PRM optimizer step (reference: the actor\'s 256)' }),
  opt({ key: 'prm.epochs', type: 'integer', default: 1, min: 1, help: 'passes of PRM updates over each step\'s batch; in \'after\' mode the rewards come from the first pass (reference: 1)' }),
  opt({ key: 'prm.probe_every', type: 'integer', default: 0, min: 0, help: 'every N steps (and at the end) measure the PRM on a fixed labelled probe set: prm/heldout_auc, prm/heldout_pairwise, prm/heldout_loss; 0 = off (chosen). The probe is sampled once from the starting policy: prm.probe_prompts prompts × rollout.n, from data.val_files or else held out of the training prompts' }),
  opt({ key: 'prm.probe_prompts', type: 'integer', default: 64, min: 1, help: 'prompts in the PRM probe set (chosen)' }),
  opt({ key: 'prm.micro_batch', type: 'integer', default: 4, min: 1, help: 'sequences per PRM / reference forward and PRM backward (chosen for CPU)' }),
  opt({ key: 'prm.loss', type: 'enum', values: ['ce', 'dpo'], default: 'ce', help: "the implicit PRM's training loss: 'ce' = cross-entropy of σ(s) against the outcome (PRIME's; default); 'dpo' = DPO's Bradley–Terry loss on s within each prompt group, pairs weighted by their outcome gap (ImplicitPRM paper's DPO variant): it ignores the offset a group's scores share, so it learns to rank within a group, not which prompts are hard. Needs prm.mini_batch and prm.micro_batch multiples of rollout.n" }),
  opt({ key: 'prm.rpo_alpha', type: 'number', default: 0, min: 0, help: "weight of an NLL term on the correct responses added to the PRM's loss (RPO, Pang et al. 2024; TRL's rpo_alpha): α · mean_i o_i·(token-mean NLL of response i). It keeps the PRM as sure as π_ref of the steps right answers take, which unlikelihood on wrong answers otherwise erodes (README: PRIME on the embedded task). Also used by prime prm-train; 0 = off (reference: no such term)" }),
  opt({ key: 'prm.replay_steps', type: 'integer', default: 0, min: 0, help: "R: after each step's PRM update, one more pass over each of the last R steps' labelled batches (newest first), so each sample is learned from R + 1 times; the step's rewards are taken before. R more PRM updates per step; a single-process run's checkpoints keep the buffer (exact resume), a data-parallel run resumes with it empty. 0 = off (reference: each batch once)" }),
  opt({ key: 'prm.gradient_checkpointing', type: 'boolean', default: false, help: 'activation checkpointing per decoder layer for the PRM update (chosen: off)' }),
  opt({ key: 'prm.dtype', type: 'enum', values: ['', 'float32', 'bfloat16'], default: '', help: "the implicit PRM's weight / compute dtype; '' = model.dtype. bfloat16 = mixed precision as actor.dtype (float32 masters when the PRM is trained; a frozen PRM, algorithm.prm_update=none, is just cast). Its log-probs are float32, but the rewards β·(log π_φ − log π_ref) difference two bf16 forwards: keep the PRM and reference in one dtype (chosen: float32)" }),

  // trainer
  opt({ key: 'trainer.total_steps', type: 'integer', default: 100, min: 1, help: 'training steps to run (chosen)' }),
  opt({ key: 'trainer.save_every', type: 'integer', default: 10, min: 0, help: 'checkpoint every N steps (and always at the end); 0 = only at the end (chosen)' }),
  opt({ key: 'trainer.eval_every', type: 'integer', default: 0, min: 0, help: 'validate on data.val_files every N steps; 0 = never (chosen)' }),
  opt({ key: 'trainer.output_dir', type: 'string', default: 'runs/prime', help: 'run directory: config.yaml, metrics.jsonl, checkpoints; a fresh run (trainer.resume=false) refuses one that holds checkpoints of an earlier run (chosen)' }),
  opt({ key: 'trainer.seed', type: 'integer', default: 42, help: 'seed of sampling and initialization RNGs (chosen)' }),
  opt({ key: 'trainer.log_every', type: 'integer', default: 1, min: 1, help: 'console progress line every N steps; metrics.jsonl gets every step (chosen)' }),
  opt({ key: 'trainer.resume', type: 'boolean', default: false, help: 'continue from the latest checkpoint in output_dir (chosen: start fresh)' }),
  opt({ key: 'trainer.threads', type: 'integer', default: 0, min: 0, help: 'intra-op CPU threads for libtorch; 0 = all cores' }),
  opt({ key: 'trainer.dist_backend', type: 'enum', values: ['auto', 'gloo', 'nccl'], default: 'auto', help: "data-parallel runs: the c10d backend. 'auto': nccl when model.device is a GPU and the addon has NCCL, else gloo. gloo reduces GPU tensors through host memory (slower, but works with several ranks on one GPU); nccl needs CUDA tensors, one GPU per rank ('cuda' becomes cuda:LOCAL_RANK) (torchrun/verl: nccl on GPUs)" }),
  opt({ key: 'trainer.dist_timeout_s', type: 'number', default: 300, gt: 0, help: 'data-parallel runs: seconds a rank waits in the rendezvous or a collective before failing with an error, so a rank that died or hangs stops the others within this bound; must exceed the longest a rank may wait for a slower one (uneven rollout rounds, rank 0 writing a checkpoint) (chosen: 300; PyTorch: 1800)' }),

  opt({ key: 'trainer.val_before_train', type: 'boolean', default: true, help: 'with trainer.eval_every > 0, also validate before the first step (logged as step 0; not on resume) (verl: val_before_train)' }),
  opt({ key: 'trainer.keep_best', type: 'string', default: '', help: "keep the policy with the highest value of this validation metric (e.g. val/accuracy) in output_dir/best/ with best.json; '' = off (chosen)" }),

  // eval (validation during training: trainer.eval_every, data.val_files)
  opt({ key: 'eval.greedy', type: 'boolean', default: true, help: 'validate with greedy decoding: val/accuracy (reference: greedy)' }),
  opt({ key: 'eval.samples', type: 'integer', default: 1, min: 1, help: 'K: when > 1, also sample K responses per validation prompt at rollout.temperature: val/avg@K, val/maj@K, val/pass@K (with eval.greedy off and K = 1: val/avg@1)' }),


  // sft (`prime sft`: supervised fine-tuning on chat data, for warm starts)
  opt({ key: 'sft.lr', type: 'number', default: 1e-5, gt: 0, help: 'peak learning rate, cosine-decayed to 0 after warmup (small models want ~1e-3)' }),
  opt({ key: 'sft.epochs', type: 'number', default: 1, gt: 0, help: 'passes over the training data (fractions allowed)' }),
  opt({ key: 'sft.batch_size', type: 'integer', default: 32, min: 1, help: 'sequences per optimizer step' }),
  opt({ key: 'sft.micro_batch', type: 'integer', default: 8, min: 1, help: 'sequences per forward/backward (gradient accumulation)' }),
  opt({ key: 'sft.warmup_steps', type: 'integer', default: 0, min: 0, help: 'linear warmup steps' }),
  opt({ key: 'sft.weight_decay', type: 'number', default: 0.0, min: 0, help: 'AdamW decoupled weight decay' }),
  opt({ key: 'sft.grad_clip', type: 'number', default: 1.0, gt: 0, help: 'max gradient L2 norm' }),
  opt({ key: 'sft.output_dir', type: 'string', default: 'runs/sft', help: 'where the fine-tuned checkpoint is written (HF layout); it replaces a model directory there, but never model.path, nor a directory holding anything else' }),

  // prm_fit (`prime prm-train`: offline implicit-PRM fit on labelled samples of model.path; the PRM
  // starts from model.prm_path, scores against model.ref_path, samples rollout.n per prompt at
  // rollout.temperature/top_p, optimizes with prm.lr/weight_decay/grad_clip/micro_batch and algorithm.beta)
  opt({ key: 'prm_fit.prompts', type: 'integer', default: 0, min: 0, help: 'training prompts sampled (rollout.n responses each); 0 = every prompt left after the held-out ones (ImplicitPRM paper: all its instructions)' }),
  opt({ key: 'prm_fit.heldout_prompts', type: 'integer', default: 100, min: 0, help: 'held-out prompts for pairwise accuracy / AUC after each epoch: the first of data.val_files, else a seeded draw from data.train_files kept out of training; 0 = none (chosen)' }),
  opt({ key: 'prm_fit.epochs', type: 'integer', default: 4, min: 1, help: 'passes of the CE loss over the labelled samples (chosen: 4, as the offline check in issue #10)' }),
  opt({ key: 'prm_fit.mini_batch', type: 'integer', default: 32, min: 1, help: 'samples per PRM optimizer step, shuffled across prompts each epoch (chosen)' }),
  opt({ key: 'prm_fit.output_dir', type: 'string', default: 'runs/prm', help: 'where the fitted PRM is written (HF layout, with prm-fit.json); use it as model.prm_path to warm-start PRIME. It replaces a model directory there, but never one of the checkpoints it reads, nor a directory holding anything else' }),
] as const;

// Compile-time check that the schema and PrimeConfig list the same keys.
type SchemaKey = (typeof CONFIG_SCHEMA)[number]['key'];
const everyFieldHasAnOption: [Exclude<ConfigKey, SchemaKey>] extends [never] ? true : false = true;
void everyFieldHasAnOption;

const SPEC_BY_KEY = new Map<string, OptionSpec>(CONFIG_SCHEMA.map((s) => [s.key, s as OptionSpec]));
const SECTIONS = [...new Set(CONFIG_SCHEMA.map((s) => s.key.split('.')[0]!))];

/** The estimators whose baseline is the other samples of the same prompt, so they need K ≥ 2. */
const GROUP_ESTIMATORS: ReadonlySet<string> = new Set(['prime', 'rloo', 'grpo', 'drgrpo']);

// ---------------------------------------------------------------------------------------------
// Errors

/** A configuration error; `problems` lists each problem found (all are reported at once). */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.length === 1 ? problems[0]! : `invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known key closest to an unknown one, or null when nothing is close. */
export function closestKey(key: string): string | null {
  const last = key.split('.').pop()!;
  const sameLeaf = CONFIG_SCHEMA.filter((s) => s.key.split('.')[1] === last).map((s) => s.key as string);
  if (sameLeaf.length > 0) return sameLeaf.sort((x, y) => levenshtein(key, x) - levenshtein(key, y))[0]!;
  let best: string | null = null;
  let bestD = Infinity;
  for (const s of CONFIG_SCHEMA) {
    const d = levenshtein(key, s.key);
    if (d < bestD) [best, bestD] = [s.key, d];
  }
  return bestD <= Math.max(3, Math.floor(key.length / 3)) ? best : null;
}

function unknownKeyProblem(key: string): string {
  const near = closestKey(key);
  return `unknown key '${key}'${near ? ` (did you mean '${near}'?)` : ''}; see 'prime train --help'`;
}

function typeName(spec: OptionSpec): string {
  if (spec.type === 'enum') return `one of ${spec.values!.join(' | ')}`;
  if (spec.type === 'string[]') return 'a list of strings';
  if (spec.type === 'object[]') return 'a list of objects';
  if (spec.type === 'integer') return 'an integer';
  return `a ${spec.type}`;
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

// ---------------------------------------------------------------------------------------------
// Values

type Flat = Map<string, unknown>;

/** Checks a value already typed (from YAML or an object) against its option; returns a problem or null. */
function checkValue(spec: OptionSpec, v: unknown): string | null {
  const bad = `${spec.key}: expected ${typeName(spec)}, got ${show(v)}`;
  switch (spec.type) {
    case 'number':
    case 'integer': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return bad;
      if (spec.type === 'integer' && !Number.isInteger(v)) return bad;
      if (spec.min !== undefined && v < spec.min) return `${spec.key}: must be ≥ ${spec.min}, got ${v}`;
      if (spec.gt !== undefined && !(v > spec.gt)) return `${spec.key}: must be > ${spec.gt}, got ${v}`;
      if (spec.max !== undefined && v > spec.max) return `${spec.key}: must be ≤ ${spec.max}, got ${v}`;
      return null;
    }
    case 'boolean':
      return typeof v === 'boolean' ? null : bad;
    case 'string':
      return typeof v === 'string' ? null : bad;
    case 'enum':
      if (typeof v !== 'string' || !spec.values!.includes(v)) {
        return `${spec.key}: expected one of ${spec.values!.map((x) => `'${x}'`).join(', ')}, got ${show(v)}`;
      }
      return null;
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? null : bad;
    case 'object[]': {
      if (!Array.isArray(v)) return bad;
      for (const [i, x] of v.entries()) {
        const p = spec.item?.(x, i) ?? (x !== null && typeof x === 'object' && !Array.isArray(x) ? null : `expected an object, got ${show(x)}`);
        if (p) return `${spec.key}[${i}]${p.startsWith('.') ? '' : ': '}${p}`;
      }
      return null;
    }
  }
}

/** Checks one reward.functions entry: { name | module, weight?, name with module }. */
function rewardFunctionProblem(x: unknown, _i: number): string | null {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return `expected { name: VERIFIER, weight: W } or { module: FILE.js, weight: W }, got ${show(x)}`;
  const o = x as Record<string, unknown>;
  const fields = ['name', 'module', 'weight'];
  for (const k of Object.keys(o)) {
    if (!fields.includes(k)) {
      const near = fields.map((f) => [f, levenshtein(k, f)] as const).sort((a, b) => a[1] - b[1])[0]!;
      return `.${k}: unknown field${near[1] <= 3 ? ` (did you mean '${near[0]}'?)` : ''}; expected name, module, weight`;
    }
  }
  if (o.name === undefined && o.module === undefined) return 'needs name (a built-in verifier) or module (a JS file)';
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) return `.name: expected a non-empty string, got ${show(o.name)}`;
  if (o.module !== undefined && (typeof o.module !== 'string' || o.module === '')) return `.module: expected a file path, got ${show(o.module)}`;
  if (o.weight !== undefined && (typeof o.weight !== 'number' || !Number.isFinite(o.weight))) return `.weight: expected a number, got ${show(o.weight)}`;
  return null;
}

/** The display name of a reward term: its name, or its module's file name without extension. */
export function rewardFunctionName(f: RewardFunctionSpec): string {
  return f.name ?? f.module!.split(/[\\/]/).pop()!.replace(/\.(c|m)?js$/, '');
}

/** The val/* metric names a config's validation produces (what trainer.keep_best may name). */
export function validationMetricNames(cfg: Pick<PrimeConfig, 'eval'>): string[] {
  const names: string[] = [];
  if (cfg.eval.greedy) names.push('val/accuracy');
  const K = cfg.eval.samples;
  if (K > 1) names.push(`val/avg@${K}`, `val/maj@${K}`, `val/pass@${K}`);
  else if (!cfg.eval.greedy) names.push('val/avg@1');
  return names;
}

/** Validation and reward options that depend on each other. */
function validationRewardProblems(c: PrimeConfig): string[] {
  const p: string[] = [];
  if (c.trainer.keep_best) {
    const names = validationMetricNames(c);
    if (c.trainer.eval_every <= 0) p.push(`trainer.keep_best=${c.trainer.keep_best} needs validation: set trainer.eval_every > 0 and data.val_files`);
    else if (!names.includes(c.trainer.keep_best)) p.push(`trainer.keep_best: '${c.trainer.keep_best}' is not a validation metric of this config (it logs ${names.join(', ')})`);
  }
  const seen = new Map<string, number>();
  c.reward.functions.forEach((f, i) => {
    const n = rewardFunctionName(f);
    if (seen.has(n)) p.push(`reward.functions[${i}]: the name '${n}' is also reward.functions[${seen.get(n)}]'s; give one a distinct name (metrics are logged as reward/<name>)`);
    if (['outcome_mean', 'overlong_penalty_mean'].includes(n) || n.startsWith('process_'))
      p.push(`reward.functions[${i}]: the name '${n}' would clash with the trainer's reward/${n} metric; set another name`);
    seen.set(n, i);
  });
  return p;
}

/**
 * Parses a command-line value by the option's type: numbers, true/false, comma-separated or YAML
 * flow lists ("a,b" or "[a, b]"; "" or "[]" = empty). Returns the value or a problem.
 */
function parseOverrideValue(spec: OptionSpec, raw: string): { value: unknown } | { problem: string } {
  const s = raw.trim();
  const bad = { problem: `${spec.key}: expected ${typeName(spec)}, got ${JSON.stringify(raw)}` };
  switch (spec.type) {
    case 'number':
    case 'integer': {
      if (s === '') return bad;
      const n = Number(s);
      return Number.isNaN(n) ? bad : { value: n };
    }
    case 'boolean': {
      const l = s.toLowerCase();
      if (l === 'true') return { value: true };
      if (l === 'false') return { value: false };
      return bad;
    }
    case 'string':
    case 'enum':
      return { value: raw };
    case 'object[]': {
      let v: unknown;
      try {
        v = s === '' ? [] : parseYaml(s);
      } catch (e) {
        return { problem: `${spec.key}: cannot parse ${JSON.stringify(raw)}: ${(e as Error).message.split('\n')[0]}` };
      }
      return { value: v };
    }
    case 'string[]': {
      if (s.startsWith('[')) {
        let v: unknown;
        try {
          v = parseYaml(s);
        } catch (e) {
          return { problem: `${spec.key}: cannot parse list ${JSON.stringify(raw)}: ${(e as Error).message.split('\n')[0]}` };
        }
        if (!Array.isArray(v) || v.some((x) => x !== null && typeof x === 'object')) return bad;
        return { value: v.map((x) => String(x)) };
      }
      return { value: s === '' ? [] : s.split(',').map((x) => x.trim()).filter((x) => x !== '') };
    }
  }
}

/** Turns the flat map of keys into the nested PrimeConfig. */
function nest(flat: Flat): PrimeConfig {
  const out: Record<string, Record<string, unknown>> = {};
  for (const s of CONFIG_SCHEMA) {
    // The section is the first segment; a field may itself contain dots (verify.math.extraction).
    const dot = s.key.indexOf('.');
    const [sec, field] = [s.key.slice(0, dot), s.key.slice(dot + 1)];
    const v = flat.get(s.key);
    (out[sec] ??= {})[field] = Array.isArray(v) ? v.slice() : v;
  }
  return out as unknown as PrimeConfig;
}

export function configDefaults(): PrimeConfig {
  return nest(new Map(CONFIG_SCHEMA.map((s) => [s.key, s.default as unknown])));
}

/** Required options and the constraints between options; returns the problems found. */
/** Each model's weight / compute dtype: its own key, or model.dtype where that is ''. */
export function modelDtypes(c: PrimeConfig): { actor: Dtype; prm: Dtype; ref: Dtype } {
  return { actor: c.actor.dtype || c.model.dtype, prm: c.prm.dtype || c.model.dtype, ref: c.model.ref_dtype || c.model.dtype };
}

function crossFieldProblems(c: PrimeConfig): string[] {
  const p: string[] = [];
  const dt = modelDtypes(c);
  if (c.algorithm.advantage === 'prime' && dt.prm !== dt.ref) {
    p.push(`prm.dtype resolves to ${dt.prm} but model.ref_dtype to ${dt.ref}: the implicit reward β·(log π_φ − log π_ref) of the untrained PRM must be 0, and with the two in different dtypes it starts as rounding noise (which process_reward_norm=batch_norm scales to full size); give both the same dtype`);
  }
  for (const s of CONFIG_SCHEMA) {
    if (!('required' in s) || !s.required) continue;
    const dot = s.key.indexOf('.');
    const v = (c as unknown as Record<string, Record<string, unknown>>)[s.key.slice(0, dot)]![s.key.slice(dot + 1)];
    if (v === '' || (Array.isArray(v) && v.length === 0)) p.push(`${s.key} is required (${s.help})`);
  }
  if (c.filter.low > c.filter.high) p.push(`filter.low (${c.filter.low}) must be ≤ filter.high (${c.filter.high})`);
  if (GROUP_ESTIMATORS.has(c.algorithm.advantage) && c.rollout.n < 2) {
    p.push(`rollout.n must be ≥ 2 for algorithm.advantage=${c.algorithm.advantage} (its baseline is the other samples of the prompt), got ${c.rollout.n}`);
  }
  if (c.filter.enable && c.rollout.n >= 1) {
    const K = c.rollout.n;
    let achievable = false;
    for (let k = 0; k <= K; k++) if (k / K >= c.filter.low - 1e-9 && k / K <= c.filter.high + 1e-9) achievable = true;
    if (!achievable) p.push(`filter band [${c.filter.low}, ${c.filter.high}] contains no accuracy k/${K} reachable with rollout.n=${K}; every group would be dropped`);
  }
  if (c.algorithm.kl_ctrl === 'adaptive' && !(c.algorithm.kl_coef > 0)) {
    p.push(`algorithm.kl_ctrl=adaptive scales algorithm.kl_coef multiplicatively, so it needs a starting kl_coef > 0, got ${c.algorithm.kl_coef}`);
  }
  if (c.algorithm.process_return === 'min' && c.algorithm.advantage !== 'prime') {
    p.push(`algorithm.process_return=min transforms the implicit PRM's process rewards, which only advantage=prime uses (got advantage=${c.algorithm.advantage})`);
  }
  if (c.algorithm.process_return === 'min' && c.algorithm.granularity === 'whole') {
    p.push(`algorithm.process_return=min with algorithm.granularity=whole: each response has one reward-bearing step, where the minimum is the sum; use granularity=token`);
  }
  if (c.reward.overlong_buffer_len > c.data.max_response_length) {
    p.push(`reward.overlong_buffer_len (${c.reward.overlong_buffer_len}) must be ≤ data.max_response_length (${c.data.max_response_length})`);
  }
  if (c.actor.mini_batch % c.actor.micro_batch !== 0) {
    p.push(`actor.mini_batch (${c.actor.mini_batch}) must be divisible by actor.micro_batch (${c.actor.micro_batch})`);
  }
  const seqs = c.rollout.batch_prompts * c.rollout.n;
  if (seqs % c.actor.mini_batch !== 0) {
    p.push(`actor.mini_batch (${c.actor.mini_batch}) must divide the sequences per step, rollout.batch_prompts × rollout.n = ${seqs}`);
  }
  if (c.trainer.eval_every > 0 && c.data.val_files.length === 0) {
    p.push(`trainer.eval_every=${c.trainer.eval_every} needs data.val_files`);
  }
  p.push(...validationRewardProblems(c));
  return p;
}

// ---------------------------------------------------------------------------------------------
// Loading

interface Located {
  value: unknown;
  /** "file:line" where the value was set */
  at: string;
}

/** Flattens the YAML mapping into dotted keys, keeping each value's line for messages. */
function flattenYaml(file: string, src: string, problems: string[]): Map<string, Located> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(src, { lineCounter });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const line = e.linePos?.[0]?.line;
      const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      problems.push(`${file}${line ? `:${line}` : ''}: YAML error: ${msg}`);
    }
    return new Map();
  }
  const out = new Map<string, Located>();
  const lineOf = (n: YamlNode | null | undefined): string => (n?.range ? `${file}:${lineCounter.linePos(n.range[0]).line}` : file);
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return out; // empty file
  if (!isMap(root)) {
    problems.push(`${file}: expected a mapping of sections (model:, data:, …) at the top level`);
    return out;
  }
  const walk = (map: YAMLMap, prefix: string) => {
    for (const pair of map.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as YamlNode | null;
      const name = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const key = prefix ? `${prefix}.${name}` : name;
      const valNode = pair.value as YamlNode | null;
      const at = lineOf(keyNode);
      if (SPEC_BY_KEY.has(key)) {
        out.set(key, { value: valNode === null ? null : valNode.toJS(doc), at });
      } else if (isMap(valNode)) {
        walk(valNode, key);
      } else if (!prefix && SECTIONS.includes(key)) {
        // `algorithm:` with nothing under it is an empty section.
        if (!(valNode === null || (isScalar(valNode) && valNode.value === null))) {
          problems.push(`${at}: '${key}' is a section; expected a mapping of its options, got ${show(valNode.toJS(doc))}`);
        }
      } else {
        problems.push(`${at}: ${unknownKeyProblem(key)}`);
      }
    }
  };
  walk(root, '');
  return out;
}

function applyOverrides(flat: Flat, overrides: readonly string[], problems: string[]): void {
  for (const ov of overrides) {
    const eq = ov.indexOf('=');
    if (eq <= 0) {
      problems.push(`override '${ov}': expected key=value`);
      continue;
    }
    const key = ov.slice(0, eq).trim();
    const spec = SPEC_BY_KEY.get(key);
    if (!spec) {
      problems.push(`override '${ov}': ${unknownKeyProblem(key)}`);
      continue;
    }
    const r = parseOverrideValue(spec, ov.slice(eq + 1));
    if ('problem' in r) {
      problems.push(`override '${ov}': ${r.problem}`);
      continue;
    }
    const p = checkValue(spec, r.value);
    if (p) problems.push(`override '${ov}': ${p}`);
    else flat.set(key, r.value);
  }
}

function finish(flat: Flat, problems: string[], where: string): PrimeConfig {
  if (problems.length > 0) throw new ConfigError(problems);
  const cfg = nest(flat);
  const cross = crossFieldProblems(cfg);
  if (cross.length > 0) throw new ConfigError(cross.map((p) => `${where}: ${p}`));
  return cfg;
}

/**
 * Loads a run configuration: defaults, then the YAML file (nested mappings, or dotted keys), then
 * the `key=value` overrides in order. Throws a ConfigError listing every problem, each naming the
 * key (and the file and line, or the override).
 */
export function loadConfig(file: string | null, overrides: readonly string[] = []): PrimeConfig {
  const flat: Flat = new Map(CONFIG_SCHEMA.map((s) => [s.key, s.default as unknown]));
  const problems: string[] = [];
  if (file !== null) {
    let src: string;
    try {
      src = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError([`${file}: cannot read config: ${(e as Error).message}`]);
    }
    for (const [key, { value, at }] of flattenYaml(file, src, problems)) {
      const spec = SPEC_BY_KEY.get(key)!;
      // `val_files:` with nothing after it means the empty list
      const v = value === null && (spec.type === 'string[]' || spec.type === 'object[]') ? [] : value;
      const p = checkValue(spec, v);
      if (p) problems.push(`${at}: ${p}`);
      else flat.set(key, v);
    }
  }
  applyOverrides(flat, overrides, problems);
  const where = file === null ? 'config (defaults + overrides)' : `${file} (with ${overrides.length} override${overrides.length === 1 ? '' : 's'})`;
  return finish(flat, problems, where);
}

/**
 * Builds a validated config from a (partial) nested object, as from TypeScript:
 * `configFromObject({ model: { path: 'ckpt' }, data: { train_files: ['t.jsonl'] } })`.
 */
export function configFromObject(obj: DeepPartial<PrimeConfig> | Record<string, unknown>, overrides: readonly string[] = []): PrimeConfig {
  const flat: Flat = new Map(CONFIG_SCHEMA.map((s) => [s.key, s.default as unknown]));
  const problems: string[] = [];
  for (const [sec, body] of Object.entries(obj)) {
    if (body === undefined) continue;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      problems.push(SECTIONS.includes(sec) ? `'${sec}' must be an object of options` : unknownKeyProblem(sec));
      continue;
    }
    for (const [field, v] of Object.entries(body)) {
      if (v === undefined) continue;
      const key = `${sec}.${field}`;
      const spec = SPEC_BY_KEY.get(key);
      if (!spec) {
        problems.push(unknownKeyProblem(key));
        continue;
      }
      const p = checkValue(spec, v);
      if (p) problems.push(p);
      else flat.set(key, Array.isArray(v) ? v.slice() : v);
    }
  }
  applyOverrides(flat, overrides, problems);
  return finish(flat, problems, 'config');
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

// ---------------------------------------------------------------------------------------------
// Output

function showDefault(s: OptionSpec): string {
  if ('required' in s && s.required) return 'required';
  if (Array.isArray(s.default)) return s.default.length ? `[${s.default.join(', ')}]` : '[]';
  if (s.default === '') return "''";
  return String(s.default);
}

/** Every option with its type, default and meaning, grouped by section (`prime train --help`). */
export function configHelp(): string {
  const lines = [
    'Options (set in the YAML config, nested by section, or override with key=value; later wins):',
    '  sources of defaults: paper = PRIME (arXiv 2502.01456), reference = its 7B recipe, chosen = this project',
  ];
  const keyWidth = Math.max(...CONFIG_SCHEMA.map((s) => s.key.length));
  for (const sec of SECTIONS) {
    lines.push('', `${sec}:`);
    for (const s of CONFIG_SCHEMA as readonly OptionSpec[]) {
      if (!s.key.startsWith(`${sec}.`)) continue;
      const type = s.type === 'enum' ? s.values!.join('|') : s.type;
      lines.push(`  ${s.key.padEnd(keyWidth)}  ${type}  (default: ${showDefault(s)})`);
      lines.push(`  ${' '.repeat(keyWidth)}  ${s.help}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** The config as YAML, each option preceded by its help as a comment; loadConfig reads it back. */
export function configToYaml(cfg: PrimeConfig): string {
  const doc = new Document(cfg);
  const root = doc.contents;
  if (isMap(root)) {
    for (const secPair of root.items) {
      if (!isPair(secPair) || !isMap(secPair.value)) continue;
      const sec = String(isScalar(secPair.key) ? secPair.key.value : secPair.key);
      for (const pair of secPair.value.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const spec = SPEC_BY_KEY.get(`${sec}.${String(pair.key.value)}`);
        if (spec) pair.key.commentBefore = ` ${spec.help}`;
      }
    }
  }
  return doc.toString({ lineWidth: 0 });
}

// ---------------------------------------------------------------------------------------------
// Command line

export interface ParsedArgs {
  /** The first positional argument (e.g. 'train'), or null. */
  command: string | null;
  /** The other positional arguments (e.g. the config file). */
  positional: string[];
  /** `--flag value`, `--flag=value`, `--bool` (true), `--no-bool` (false), `-h` (true). */
  flags: Record<string, string | boolean>;
  /** `key=value` arguments, in order. */
  overrides: string[];
}

export interface ParseArgsOptions {
  /** Flags that never take a value, so `--resume run.yaml` leaves run.yaml positional. Default: help, version, resume. */
  booleans?: readonly string[];
}

/**
 * Splits argv (without node and the script) into command, positionals, flags and overrides.
 * A token with '=' that does not start with '-' is an override; after `--` every token is positional.
 * `--flag` takes the next token as its value unless the flag is boolean or the next token starts
 * with '-' or is an override.
 */
export function parseArgs(argv: readonly string[], opts: ParseArgsOptions = {}): ParsedArgs {
  const booleans = new Set(opts.booleans ?? ['help', 'version', 'resume']);
  const out: ParsedArgs = { command: null, positional: [], flags: {}, overrides: [] };
  const positional: string[] = [];
  let onlyPositional = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (onlyPositional) {
      positional.push(a);
    } else if (a === '--') {
      onlyPositional = true;
    } else if (a.startsWith('--') && a.length > 2) {
      const body = a.slice(2);
      const eq = body.indexOf('=');
      if (eq >= 0) {
        out.flags[body.slice(0, eq)] = body.slice(eq + 1);
      } else if (body.startsWith('no-') && booleans.has(body.slice(3))) {
        out.flags[body.slice(3)] = false;
      } else if (booleans.has(body)) {
        out.flags[body] = true;
      } else {
        const nxt = argv[i + 1];
        if (nxt !== undefined && !nxt.startsWith('-') && !isOverride(nxt)) {
          out.flags[body] = nxt;
          i++;
        } else {
          out.flags[body] = true;
        }
      }
    } else if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      for (const ch of a.slice(1)) out.flags[ch === 'h' ? 'help' : ch] = true;
    } else if (isOverride(a)) {
      out.overrides.push(a);
    } else {
      positional.push(a);
    }
  }
  out.command = positional.shift() ?? null;
  out.positional = positional;
  return out;
}

function isOverride(a: string): boolean {
  return /^[A-Za-z_][\w.-]*=/.test(a);
}
