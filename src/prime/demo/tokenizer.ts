/**
 * A character-level tokenizer for the demo, written as a Hugging Face `tokenizer.json` (a BPE
 * model with single-character vocabulary and no merges, concatenating decoder) and a
 * `tokenizer_config.json` with a ChatML template like Qwen2's. Any HF-compatible loader opens it.
 */
import fs from 'node:fs';
import path from 'node:path';

export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;
/** Characters the demo's problems and solutions use (plus room for chat roles). */
export const DEMO_CHARS = '0123456789+-*=.,:;!?()[]{}\\/_ \nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ$\'"<>|^%#&@~`';

export const CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Writes tokenizer.json and tokenizer_config.json into `dir`; returns the vocabulary size. */
export function writeCharTokenizer(dir: string, chars: string = DEMO_CHARS): number {
  fs.mkdirSync(dir, { recursive: true });
  const vocab: Record<string, number> = {};
  SPECIAL_TOKENS.forEach((t, i) => (vocab[t] = i));
  for (const c of chars) if (!(c in vocab)) vocab[c] = Object.keys(vocab).length;
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((t, i) => ({ id: i, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    chat_template: CHAT_TEMPLATE,
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
    bos_token: null,
    model_max_length: 512,
    added_tokens_decoder: Object.fromEntries(SPECIAL_TOKENS.map((t, i) => [String(i), { content: t, special: true, lstrip: false, rstrip: false, normalized: false, single_word: false }])),
  };
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
  return Object.keys(vocab).length;
}
