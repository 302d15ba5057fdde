/**
 * Batched sampling with a key/value cache — the rollout half of PRIME.
 *
 * Prompts of different lengths are left-padded into one batch and prefilled once; each prompt's
 * cache rows are then repeated for its n samples. Every step feeds the B' still-running rows
 * one token each, samples the next token from softmax(logits / temperature) restricted by top-k
 * and top-p (or takes the argmax), and records that token's log-prob under the full tempered
 * distribution. A row finishes on a stop token id, on a stop string in its decoded text, or
 * after maxNewTokens; finished rows leave the batch (their cache rows are dropped), so the
 * remaining work shrinks with them.
 *
 * Determinism: with `seed`, libtorch's global generator is reseeded first, so the same model,
 * prompts and options give the same samples.
 */
import * as torch from '../torch/index.js';
import { type Tensor, keep, noGrad } from '../torch/index.js';
import { leftPad } from './batch.js';
import { KVCache, type KVCacheMode } from './kvcache.js';
import { positionIdsFromMask, type CausalLM } from './model.js';
import type { Tokenizer } from './tokenizer.js';

export interface GenerateOptions {
  /** Samples per prompt (K in PRIME). Default 1. */
  n?: number;
  /** Upper bound on generated tokens per sample (the stop token included). */
  maxNewTokens: number;
  /** Default 1. Ignored when greedy. */
  temperature?: number;
  /** Nucleus sampling: smallest set of tokens with probability ≥ topP. Default 1 (off). */
  topP?: number;
  /** Sample among the topK most likely tokens. Default 0 (off). */
  topK?: number;
  /** Argmax decoding (validation). Log-probs are then under temperature 1. */
  greedy?: boolean;
  /** A sample ends right after emitting one of these (kept as its last token). */
  stopTokenIds?: number[];
  /** A sample ends as soon as its decoded text contains one of these (needs `tokenizer`); the text is cut before it. */
  stopStrings?: string[];
  /** Decodes the samples (`text`) and checks stop strings. */
  tokenizer?: Tokenizer | null;
  /** Leave special tokens out of `text`. Default true (as vLLM). */
  skipSpecialTokens?: boolean;
  /** Reseeds libtorch's global generator before sampling. */
  seed?: number;
  /** Fills left padding (never attended to). Default: the tokenizer's pad id, else 0. */
  padTokenId?: number;
  /** KV cache layout; 'cat' exists for measurement. Default 'prealloc'. */
  kvCache?: KVCacheMode;
  /** Called after each decoding step's forward with the number of rows it ran on. */
  onStep?: (step: number, rows: number) => void;
}

export type FinishReason = 'stop' | 'length';

export interface Sample {
  promptIndex: number;
  /** 0 … n−1 among the samples of its prompt. */
  sampleIndex: number;
  /** Generated token ids; ends with the stop token id when one ended the sample. */
  tokenIds: number[];
  /** Log-prob of each generated token under softmax(logits / temperature) over the full vocabulary. */
  logprobs: number[];
  /** Decoded tokens (without a final stop token id), cut before the stop string that ended it; '' without a tokenizer. */
  text: string;
  finishReason: FinishReason;
  /** The stop token id or stop string that ended the sample. */
  stoppedBy?: number | string;
}

/**
 * Samples `n` continuations of each prompt (token ids). Returns prompt-major order:
 * result[i·n + j] is sample j of prompt i.
 */
export function generate(model: CausalLM, prompts: number[][], opts: GenerateOptions): Sample[] {
  const n = opts.n ?? 1;
  const maxNew = opts.maxNewTokens;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`generate: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(maxNew) || maxNew < 1) throw new RangeError(`generate: maxNewTokens must be a positive integer, got ${maxNew}`);
  const temperature = opts.temperature ?? 1;
  const greedy = opts.greedy ?? false;
  if (!greedy && !(temperature > 0)) throw new RangeError(`generate: temperature must be > 0 (or use greedy), got ${temperature}`);
  const topP = opts.topP ?? 1, topK = opts.topK ?? 0;
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`generate: topP must be in (0, 1], got ${topP}`);
  if (!Number.isInteger(topK) || topK < 0) throw new RangeError(`generate: topK must be a non-negative integer, got ${topK}`);
  const tok = opts.tokenizer ?? null;
  const stopStrings = (opts.stopStrings ?? []).filter((s) => s.length > 0);
  if (stopStrings.length && !tok) throw new Error('generate: stopStrings need a tokenizer');
  const stopIds = new Set(opts.stopTokenIds ?? []);
  const skipSpecial = opts.skipSpecialTokens ?? true;
  const V = model.config.vocabSize;
  prompts.forEach((p, i) => p.forEach((t) => {
    if (!(Number.isInteger(t) && t >= 0 && t < V)) throw new RangeError(`generate: prompt ${i} has token id ${t} outside [0, ${V})`);
  }));
  if (opts.seed !== undefined) torch.manualSeed(opts.seed);

  const P = prompts.length;
  const samples: Sample[] = [];
  for (let i = 0; i < P; i++)
    for (let j = 0; j < n; j++) samples.push({ promptIndex: i, sampleIndex: j, tokenIds: [], logprobs: [], text: '', finishReason: 'length' });
  if (P === 0) return samples;

  // Stop strings are looked for in the decoded tail of each sample, long enough to hold any of
  // them even when every character takes 4 byte-level tokens.
  const tailTokens = 4 * Math.max(0, ...stopStrings.map((s) => s.length)) + 4;
  // Exact text of the tokens: no clean_up_tokenization_spaces (verifiers grade what the model wrote).
  const decode = (ids: number[]) => tok!.decode(ids, { skipSpecialTokens: skipSpecial, cleanUpTokenizationSpaces: false });

  const state: { cache: KVCache | null; keyMask: Tensor | null; nextPos: Tensor | null; logits: Tensor | null } = { cache: null, keyMask: null, nextPos: null, logits: null };
  const replace = <K extends 'keyMask' | 'nextPos' | 'logits'>(k: K, t: Tensor | null) => {
    const old = state[k];
    state[k] = t ? keep(t) : null;
    if (old && old !== t) old.dispose();
  };
  noGrad(() => {
    try {
      const Lp = Math.max(...prompts.map((p) => p.length));
      const hasPad = prompts.some((p) => p.length !== Lp);
      const Tmax = Lp + maxNew;
      const cache = (state.cache = new KVCache(model.config, P, Tmax, model.dtype, opts.kvCache ?? 'prealloc', model.device));
      const dev = model.device;

      // ---- prefill: every prompt once
      torch.tidy(() => {
        const { inputIds, attentionMask } = leftPad(prompts, opts.padTokenId ?? tok?.padTokenId ?? 0);
        let keyMask: Tensor | null = null;
        if (hasPad) {
          // (P, Tmax): the prompt's mask, then every generated position is a real token
          keyMask = torch.ones([P, Tmax], { dtype: 'bool', device: dev }).narrowCopy_(1, 0, attentionMask.bool().to(dev));
          replace('keyMask', keyMask);
        }
        const hidden = model.forward(inputIds, {
          positionIds: positionIdsFromMask(attentionMask), maxPosition: Lp - 1,
          attentionMask: keyMask ? keyMask.narrow(1, 0, Lp) : null, cache,
        }); // (P, Lp, D)
        replace('logits', model.logits(hidden.select(1, Lp - 1))); // (P, V)
        replace('nextPos', attentionMask.to(dev).sum(1)); // (P): position of each row's next token
      });
      // ---- n samples per prompt share the prompt's cache rows
      if (n > 1) {
        torch.tidy(() => {
          const rows = torch.arange(P, undefined, 1, { device: dev }).repeatInterleave(n);
          cache.selectRows(rows);
          replace('logits', state.logits!.indexSelect(0, rows));
          replace('nextPos', state.nextPos!.indexSelect(0, rows));
          if (state.keyMask) replace('keyMask', state.keyMask.indexSelect(0, rows));
        });
      }

      let active = samples.map((_, r) => r); // batch row → sample index
      for (let step = 0; step < maxNew; step++) {
        const [tokens, lps] = torch.sampleNext(state.logits!, { temperature, topP, topK, greedy }); // (B), (B)
        try {
          const tArr = tokens.data() as BigInt64Array;
          const lArr = lps.toFlatArray();
          const still: number[] = []; // batch rows that continue
          for (let r = 0; r < active.length; r++) {
            const s = samples[active[r]!]!;
            const id = Number(tArr[r]);
            s.tokenIds.push(id);
            s.logprobs.push(lArr[r]!);
            if (stopIds.has(id)) {
              s.finishReason = 'stop';
              s.stoppedBy = id;
              continue;
            }
            if (stopStrings.length) {
              const tail = decode(s.tokenIds.slice(-tailTokens));
              const hit = stopStrings.find((x) => tail.includes(x));
              if (hit !== undefined) {
                s.finishReason = 'stop';
                s.stoppedBy = hit;
                continue;
              }
            }
            still.push(r);
          }
          if (still.length === 0 || step === maxNew - 1) break;
          torch.tidy(() => {
            let next = tokens;
            if (still.length < active.length) {
              // finished rows leave the batch: keep only the running rows of every per-row tensor
              const rows = torch.tensor(BigInt64Array.from(still, BigInt)).to(dev);
              cache.selectRows(rows);
              next = tokens.indexSelect(0, rows);
              replace('nextPos', state.nextPos!.indexSelect(0, rows));
              if (state.keyMask) replace('keyMask', state.keyMask.indexSelect(0, rows));
              active = still.map((r) => active[r]!);
            }
            const B = active.length;
            const hidden = model.forward(next.view(B, 1), {
              positionIds: state.nextPos!.view(B, 1), maxPosition: Lp + step,
              attentionMask: state.keyMask ? state.keyMask.narrow(1, 0, cache.length + 1) : null, cache,
            }); // (B, 1, D)
            replace('logits', model.logits(hidden.view(B, -1))); // (B, V)
            state.nextPos!.add_(1);
            opts.onStep?.(step, B);
          });
        } finally {
          tokens.dispose();
          lps.dispose();
        }
      }
    } finally {
      state.cache?.dispose();
      replace('keyMask', null);
      replace('nextPos', null);
      replace('logits', null);
    }
  });

  if (tok) {
    for (const s of samples) {
      const ids = s.finishReason === 'stop' && typeof s.stoppedBy === 'number' ? s.tokenIds.slice(0, -1) : s.tokenIds;
      let text = decode(ids);
      if (typeof s.stoppedBy === 'string') {
        const cut = Math.min(...stopStrings.map((x) => text.indexOf(x)).filter((i) => i >= 0));
        if (Number.isFinite(cut)) text = text.slice(0, cut);
      }
      s.text = text;
    }
  }
  return samples;
}
