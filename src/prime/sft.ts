/**
 * Supervised fine-tuning on chat data (`prime sft`), for warm starts: next-token cross-entropy
 * on the assistant response only, token-mean over each batch, AdamW with linear warmup and
 * cosine decay.
 *
 * Data: JSONL rows `{"messages": [..., {"role": "assistant", "content": …}]}` (the last message is
 * the target), or Eurus-2-RL-Data rows whose `extra_info.solution` holds a worked solution.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as torch from '../torch/index.js';
import { AdamW, tidy, cosineSchedule } from '../torch/index.js';
import { loadPretrained, savePretrained, logprobs, packSequences, type Tokenizer } from '../lm/index.js';
import type { PrimeConfig } from './config.js';
import { loadPromptFiles, seededPermutation, type ChatMessage } from './data.js';
import { assertReplaceableModelDir } from './checkpoint.js';

export interface SftExample {
  prompt: ChatMessage[];
  response: string;
}

const isChatRow = (raw: unknown): boolean => typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'messages' in raw;

/** Loads SFT examples; errors name the file and line (JSONL) or row (a .json array). */
export async function loadSftExamples(files: string[]): Promise<SftExample[]> {
  const out: SftExample[] = [];
  for (const file of files) {
    // chat rows are read here from JSONL or a JSON array; the first row decides the format (chat
    // `messages`, else Eurus rows, which loadPromptFiles reads from any of its formats, so a JSONL
    // file of Eurus rows is parsed here only as far as its first row)
    let rows: { raw: unknown; at: string }[] = [];
    if (file.endsWith('.jsonl')) {
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      for (let i = 0; i < lines.length; i++) {
        if (!lines[i]!.trim()) continue;
        try {
          rows.push({ raw: JSON.parse(lines[i]!), at: `line ${i + 1}` });
        } catch (e) {
          throw new Error(`${file}: line ${i + 1}: invalid JSON (${(e as Error).message})`);
        }
        if (rows.length === 1 && !isChatRow(rows[0]!.raw)) break;
      }
    } else if (file.endsWith('.json')) {
      let all: unknown;
      try {
        all = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (e) {
        throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `invalid JSON (${(e as Error).message})`}`);
      }
      if (Array.isArray(all)) rows = all.map((raw, i) => ({ raw, at: `row ${i}` }));
    }
    const first = rows[0];
    if (first && (typeof first.raw !== 'object' || first.raw === null || Array.isArray(first.raw)))
      throw new Error(`${file}: ${first.at}: expected a JSON object, got ${Array.isArray(first.raw) ? 'an array' : JSON.stringify(first.raw)}`);
    if (first && isChatRow(first.raw)) {
      for (const { raw, at } of rows) {
        const msgs = (raw as { messages?: ChatMessage[] } | null)?.messages;
        if (!Array.isArray(msgs) || msgs.length < 2) throw new Error(`${file}: ${at}: field 'messages' must be a list of at least 2 chat messages`);
        msgs.forEach((m, j) => {
          if (typeof m !== 'object' || m === null || typeof m.role !== 'string' || typeof m.content !== 'string')
            throw new Error(`${file}: ${at}: field 'messages[${j}]' must be a {role, content} object of strings`);
        });
        const last = msgs[msgs.length - 1]!;
        if (last.role !== 'assistant') throw new Error(`${file}: ${at}: field 'messages[${msgs.length - 1}]' must be the assistant's response`);
        out.push({ prompt: msgs.slice(0, -1), response: last.content });
      }
    } else {
      for (const r of await loadPromptFiles([file])) {
        const sol = r.extraInfo.solution ?? r.extraInfo.response;
        if (typeof sol !== 'string') throw new Error(`${file}: row ${r.row}: field 'extra_info.solution' (the SFT target) is missing`);
        out.push({ prompt: r.messages, response: sol });
      }
    }
  }
  return out;
}

/** Prompt ids (chat template with generation prompt) and response ids ending with eos. */
export function tokenizeSft(tok: Tokenizer, ex: SftExample, eosId: number): { prompt: number[]; response: number[] } {
  return { prompt: tok.encodeChat(ex.prompt, { addGenerationPrompt: true }), response: [...tok.encode(ex.response, { addSpecialTokens: false }), eosId] };
}

export interface SftResult { steps: number; finalLoss: number; outputDir: string; dropped: number }

/** Runs SFT per cfg.sft on cfg.data.train_files, starting from cfg.model.path. */
export async function runSft(cfg: PrimeConfig, log: (s: string) => void = console.log): Promise<SftResult> {
  const s = cfg.sft;
  if (cfg.trainer.threads > 0) torch.setNumThreads(cfg.trainer.threads);
  torch.manualSeed(cfg.trainer.seed);
  assertReplaceableModelDir(s.output_dir, 'sft.output_dir', [cfg.model.path]);
  const { model, tokenizer, stopTokenIds } = loadPretrained(cfg.model.path, { dtype: cfg.model.dtype });
  if (!tokenizer) throw new Error(`${cfg.model.path}: no tokenizer.json`);
  const eos = tokenizer.eosTokenId ?? stopTokenIds[0];
  if (eos === undefined || eos === null) throw new Error(`${cfg.model.path}: no eos token id in the tokenizer or generation config`);
  const pad = tokenizer.padTokenId ?? eos;
  const all = (await loadSftExamples(cfg.data.train_files)).map((e) => tokenizeSft(tokenizer, e, eos));
  const data = all.filter((e) => e.prompt.length <= cfg.data.max_prompt_length && e.response.length <= cfg.data.max_response_length);
  const dropped = all.length - data.length;
  if (!data.length) throw new Error('sft: no examples fit data.max_prompt_length / data.max_response_length');
  const total = Math.max(1, Math.ceil((s.epochs * data.length) / s.batch_size));
  const opt = new AdamW(model.parameters(), { lr: s.lr, weightDecay: s.weight_decay });
  const sched = cosineSchedule(s.lr, total, s.warmup_steps);
  log(`sft: ${data.length} examples (${dropped} too long), ${total} steps of ${s.batch_size}, ${(model.numParameters() / 1e6).toFixed(2)}M params`);
  let order: number[] = [], epoch = 0, cursor = 0, loss = NaN;
  const t0 = Date.now();
  model.train();
  for (let step = 0; step < total; step++) {
    const batch: typeof data = [];
    while (batch.length < s.batch_size) {
      if (cursor >= order.length) {
        order = seededPermutation(data.length, cfg.data.seed, epoch++);
        cursor = 0;
      }
      batch.push(data[order[cursor++]!]!);
    }
    const tokens = batch.reduce((a, e) => a + e.response.length, 0);
    opt.setLr(sched(step));
    let lsum = 0;
    for (let i = 0; i < batch.length; i += s.micro_batch) {
      const mb = batch.slice(i, i + s.micro_batch);
      lsum += tidy(() => {
        const p = packSequences(mb.map((e) => e.prompt), mb.map((e) => e.response), pad);
        const lp = logprobs(model, p.inputIds, { attentionMask: p.attentionMask, responseMask: p.responseMask, responseStart: p.responseStart }).logprobs;
        const l = lp.mul(p.responseMask).sum().neg().div(tokens); // token-mean over the whole batch
        l.backward();
        return l.item();
      });
    }
    const gn = torch.clipGradNorm(model.parameters(), s.grad_clip);
    if (!Number.isFinite(gn) || !Number.isFinite(lsum)) throw new Error(`sft: non-finite ${Number.isFinite(lsum) ? 'gradient norm' : 'loss'} at step ${step + 1}`);
    opt.step();
    opt.zeroGrad();
    loss = lsum;
    if ((step + 1) % Math.max(1, cfg.trainer.log_every) === 0 || step + 1 === total) {
      const el = (Date.now() - t0) / 1000;
      log(`sft step ${step + 1}/${total} | loss ${loss.toFixed(4)} | lr ${sched(step).toExponential(2)} | ${(el / (step + 1)).toFixed(2)} s/step | ETA ${Math.round((el / (step + 1)) * (total - step - 1))}s`);
    }
  }
  // write next to the destination, then swap in: a crash never leaves a half-written model
  const tmp = `${s.output_dir.replace(/\/$/, '')}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  savePretrained(tmp, model, { tokenizer });
  fs.rmSync(s.output_dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(path.resolve(s.output_dir)), { recursive: true });
  fs.renameSync(tmp, s.output_dir);
  model.dispose();
  opt.dispose();
  return { steps: total, finalLoss: loss, outputDir: s.output_dir, dropped };
}
