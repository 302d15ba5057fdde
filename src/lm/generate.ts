/**
 * Batched sampling with a key/value cache — the rollout half of PRIME.
 *
 * Every step feeds the B running rows one token each, samples the next token from
 * softmax(logits / temperature) restricted by top-k and top-p (or takes the argmax), and records
 * that token's log-prob under the full tempered distribution. A row finishes on a stop token id,
 * on a stop string in its decoded text, or after maxNewTokens; finished rows leave the batch.
 *
 * Two loops. The default (fused model, 'prealloc' cache) is continuous batching
 * (`decodeContinuous`): cache rows are slots, each sequence starts at column 0 of its row and has
 * its own length, a step is one native call, and a finished row's slot takes the next waiting
 * sample (`maxBatchRows`; by default every sample runs at once, so slots only empty). The
 * reference loop (`model.fused = false` or the 'cat' cache, kept for tests and the benchmark's
 * ablations) left-pads the prompts into one batch, prefills them once, repeats each prompt's
 * cache rows for its n samples and index-selects the running rows as samples finish.
 *
 * Determinism: with `seed`, libtorch's global generator is reseeded first, so the same model,
 * prompts and options give the same samples (both loops draw the same uniforms in the same row
 * order). With `seeds`, every sample has a generator of its own.
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
  /**
   * One seed per prompt (integers in [0, 2³²), instead of `seed`): sample j of prompt i draws from
   * a generator of its own seeded with `sampleSeed(seeds[i], j)`, so a prompt's samples do not
   * depend on which other prompts share the batch, nor on `maxBatchRows` (up to floating-point
   * rounding of batched products). libtorch's global generator is untouched.
   */
  seeds?: number[];
  /**
   * Continuous batching: at most this many sequences decode at once; a finished row is replaced
   * by the next waiting sample (its prompt prefilled then), so the batch stays full. Default: all
   * samples at once.
   */
  maxBatchRows?: number;
  /** Fills left padding (never attended to). Default: the tokenizer's pad id, else 0. */
  padTokenId?: number;
  /** KV cache layout; 'cat' exists for measurement. Default 'prealloc'. */
  kvCache?: KVCacheMode;
  /**
   * 'continuous' (default with the fused model and the 'prealloc' cache): continuous batching, one
   * native call per step. 'padded': the left-padded reference loop (the only one op by op or with
   * the 'cat' cache), kept for tests and the benchmark's before/after rows.
   */
  decodeLoop?: 'continuous' | 'padded';
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
  if (opts.seeds !== undefined) {
    if (opts.seed !== undefined) throw new Error('generate: give seed or seeds, not both');
    if (opts.seeds.length !== prompts.length) throw new RangeError(`generate: ${opts.seeds.length} seeds for ${prompts.length} prompts`);
    opts.seeds.forEach((x, i) => { if (!(Number.isInteger(x) && x >= 0 && x < 2 ** 32)) throw new RangeError(`generate: seeds[${i}] must be an integer in [0, 2^32), got ${x}`); });
  }
  const maxRows = opts.maxBatchRows;
  if (maxRows !== undefined && !(Number.isInteger(maxRows) && maxRows >= 1)) throw new RangeError(`generate: maxBatchRows must be a positive integer, got ${maxRows}`);
  prompts.forEach((p, i) => { if (p.length === 0) throw new RangeError(`generate: prompt ${i} is empty`); });
  const continuous = model.fused && (opts.kvCache ?? 'prealloc') === 'prealloc' && opts.decodeLoop !== 'padded';
  if (opts.decodeLoop === 'continuous' && !continuous) throw new Error("generate: the continuous loop needs the fused model and the 'prealloc' cache");
  if (!continuous && maxRows !== undefined && maxRows < prompts.length * n) throw new Error('generate: maxBatchRows needs the continuous loop');
  if (!continuous && opts.seeds !== undefined) throw new Error("generate: seeds need the fused model with the 'prealloc' cache");
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
  /** Appends a drawn token to sample s; false when that finished it (stop id, stop string, length). */
  const record = (s: Sample, id: number, lp: number): boolean => {
    if (Number.isNaN(lp) || lp === Infinity)
      throw new Error(`generate: the model's logits are not finite (NaN or Inf) at token ${s.tokenIds.length} of sample ${s.sampleIndex} of prompt ${s.promptIndex}: its weights or inputs hold non-finite values`);
    s.tokenIds.push(id);
    s.logprobs.push(lp);
    if (stopIds.has(id)) {
      s.finishReason = 'stop';
      s.stoppedBy = id;
      return false;
    }
    if (stopStrings.length) {
      const tail = decode(s.tokenIds.slice(-tailTokens));
      const hit = stopStrings.find((x) => tail.includes(x));
      if (hit !== undefined) {
        s.finishReason = 'stop';
        s.stoppedBy = hit;
        return false;
      }
    }
    return s.tokenIds.length < maxNew;
  };

  if (continuous) {
    decodeContinuous(model, prompts, samples, {
      maxNew, maxRows: Math.min(maxRows ?? samples.length, samples.length), padId: opts.padTokenId ?? tok?.padTokenId ?? 0,
      sampling: { temperature, topP, topK, greedy }, seeds: opts.seeds, record, onStep: opts.onStep,
    });
    finishTexts();
    return samples;
  }

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
            // the last step ends every row anyway (the loop breaks below), so record's length check agrees
            if (record(samples[active[r]!]!, Number(tArr[r]), lArr[r]!)) still.push(r);
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

  finishTexts();
  return samples;

  /** Decodes each sample's text (without a final stop id, cut before a stop string). */
  function finishTexts(): void {
    if (!tok) return;
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
}

/**
 * The decoding loop of continuous batching (the fused model, 'prealloc' cache). Cache rows are
 * slots; each row's sequence starts at column 0 (prompts right-padded at prefill, so no row
 * carries left padding) and has its own length, so rows of different ages share one batch. A
 * step is one native call (`CausalLM.decodeStep`: every layer, the final norm, lm_head on the B
 * new positions, the draw) whose only read-back is the B tokens and their log-probs. Finished rows
 * leave (the cache is compacted in place, order kept); free rows take the next waiting samples,
 * whose prompts are prefilled together (once per prompt) and copied into them.
 * Rows stay in admission order (= sample order when every sample fits at once), so with one global
 * seed the draws are those of the left-padded loop.
 */
function decodeContinuous(model: CausalLM, prompts: number[][], samples: Sample[], o: {
  maxNew: number; maxRows: number; padId: number; seeds?: number[];
  sampling: { temperature: number; topP: number; topK: number; greedy: boolean };
  record: (s: Sample, id: number, lp: number) => boolean; onStep?: (step: number, rows: number) => void;
}): void {
  const S = o.maxRows, dev = model.device, total = samples.length;
  const Lmax = Math.max(...prompts.map((p) => p.length));
  const i64 = (xs: number[]) => torch.tensor(BigInt64Array.from(xs, BigInt));
  noGrad(() => {
    // transposed or packed copies for few-row products and one intra-op thread for small CPU models
    const weights = model.cachedDecodeWeights(); // owned by the model: reused while its weights are unchanged
    const callerThreads = torch.getNumThreads();
    let cache: KVCache | null = null;
    // one generator per sample (made when it enters the batch)
    const states: (Tensor | null)[] | undefined = o.seeds ? samples.map(() => null) : undefined;
    try {
      if (weights.threads !== null) torch.setNumThreads(weights.threads);
      const kv = (cache = new KVCache(model.config, S, Lmax + o.maxNew, model.dtype, 'prealloc', dev));
      // columns a row has not written are masked, but a masked weight (0) times uninitialized memory
      // (possibly NaN) is NaN: start from zeros (compaction and admission copy only finite values)
      for (const t of [...kv.keys, ...kv.values]) t!.zero_();
      let rows: number[] = []; // cache row → sample index
      let cols: number[] = []; // cache row → position (= column) of its next input token
      let last: number[] = []; // cache row → its next input token
      let next = 0; // first waiting sample
      /**
       * Records the drawn tokens of rows [from, rows.length) (ids[r − from]); compacts the cache to
       * the rows that continue. span: the cache columns written so far.
       */
      const advance = (from: number, ids: BigInt64Array, lps: number[], span: number) => {
        const keepRows: number[] = Array.from({ length: from }, (_, r) => r);
        for (let r = from; r < rows.length; r++) {
          const id = Number(ids[r - from]);
          if (o.record(samples[rows[r]!]!, id, lps[r - from]!)) {
            keepRows.push(r);
            last[r] = id;
          }
        }
        if (keepRows.length === rows.length) return;
        if (keepRows.length) torch.tidy(() => kv.compactRows(i64(keepRows), rows.length, span));
        rows = keepRows.map((r) => rows[r]!);
        cols = keepRows.map((r) => cols[r]!);
        last = keepRows.map((r) => last[r]!);
      };
      let step = 0;
      for (;;) {
        // ---- free rows take waiting samples: prefill their prompts (once each), draw the first token
        while (rows.length < S && next < total) {
          const take = samples.slice(next, next + S - rows.length);
          next += take.length;
          const uniq = [...new Set(take.map((x) => x.promptIndex))];
          const lens = uniq.map((i) => prompts[i]!.length);
          const Lu = Math.max(...lens);
          const src = take.map((x) => uniq.indexOf(x.promptIndex));
          const tmp = new KVCache(model.config, uniq.length, Lu, model.dtype, 'prealloc', dev);
          try {
            const [t, lp] = torch.tidy(() => {
              // right-padded: every prompt starts at column 0, positions 0 … len−1
              const ids = i64(uniq.flatMap((i) => [...prompts[i]!, ...new Array<number>(Lu - prompts[i]!.length).fill(o.padId)])).view(uniq.length, Lu);
              const mask = lens.some((l) => l !== Lu) ? torch.tensor(Uint8Array.from(uniq.flatMap((_, u) => Array.from({ length: Lu }, (_, c) => (c < lens[u]! ? 1 : 0)))), { dtype: 'bool' }).view(uniq.length, Lu) : null;
              const hidden = model.forward(ids, { attentionMask: mask, cache: tmp, maxPosition: Lu - 1 }); // (U, Lu, D)
              const lastH = hidden.view(uniq.length * Lu, -1).indexSelect(0, i64(lens.map((l, u) => u * Lu + l - 1)).to(dev)); // (U, D)
              const logits = model.logits(lastH, { weights }).indexSelect(0, i64(src).to(dev)); // (k, V)
              kv.admitRows(rows.length, tmp, i64(src), Lu);
              const groups = states ? { rngStates: take.map((x, j) => (states[next - take.length + j] = keep(torch.rngStateForSeed(sampleSeed(o.seeds![x.promptIndex]!, x.sampleIndex))))) } : {};
              return torch.sampleNext(logits, { ...o.sampling, ...groups }).map((x) => keep(x)) as [Tensor, Tensor];
            });
            const span = Math.max(Lu, ...cols), from = rows.length;
            rows.push(...take.map((_, j) => next - take.length + j));
            cols.push(...src.map((u) => lens[u]!));
            last.push(...take.map(() => 0));
            try {
              advance(from, t.data() as BigInt64Array, lp.toFlatArray(), span);
            } finally {
              t.dispose();
              lp.dispose();
            }
          } finally {
            tmp.dispose();
          }
        }
        if (rows.length === 0) break;
        // ---- one decoding step of every row
        const B = rows.length;
        const maxCol = Math.max(...cols);
        const [t, lp] = torch.tidy(() => {
          const groups = states ? { rngStates: rows.map((r) => states[r]!) } : {};
          return model.decodeStep(i64(last), i64(cols), maxCol, kv, { ...o.sampling, ...groups, weights }).map((x) => keep(x)) as [Tensor, Tensor];
        });
        o.onStep?.(step++, B);
        for (let r = 0; r < B; r++) cols[r]!++;
        try {
          advance(0, t.data() as BigInt64Array, lp.toFlatArray(), maxCol + 1);
        } finally {
          t.dispose();
          lp.dispose();
        }
      }
    } finally {
      if (weights.threads !== null) torch.setNumThreads(callerThreads);
      cache?.dispose();
      states?.forEach((x) => x?.dispose());
    }
  });
}

/**
 * The generator seed of sample j of a prompt seeded `seed` (generate's `seeds`): murmur3's 32-bit
 * finalizer of seed ⊕ (j + 1)·φ (φ = 0x9e3779b9), so samples of one prompt and equal-sample
 * indices of other prompts get unrelated streams (libtorch seeds its mt19937 with 32 bits).
 */
export function sampleSeed(seed: number, j: number): number {
  let h = (seed ^ Math.imul(j + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
