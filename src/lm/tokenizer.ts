/**
 * A Hugging Face tokenizer (tokenizer.json, run by tokenizers.js) with its tokenizer_config.json:
 * special tokens, the chat template (rendered by @huggingface/jinja) and the eos/pad ids.
 * The original files are kept verbatim so a checkpoint saved here carries them unchanged.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';

/** Files a tokenizer may consist of; those present are copied when a checkpoint is saved. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'added_tokens.json', 'chat_template.jinja', 'chat_template.json'];

export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

/** A special-token entry of tokenizer_config.json: a string or an AddedToken object. */
function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

export class Tokenizer {
  readonly #tok: HFTokenizer;
  readonly #template: Template | null;
  readonly #specialIds: Set<number>;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly bosTokenId: number | null;
  /** The tokenizer's eos token (tokenizer_config.json `eos_token`). */
  readonly eosTokenId: number | null;
  /** tokenizer_config.json `pad_token`, else the eos token (left padding never reaches the model). */
  readonly padTokenId: number | null;
  /** Largest token id + 1 (the model's vocab_size may be larger). */
  readonly vocabSize: number;
  /** Raw tokenizer files by name, written back by `save`. */
  readonly files: Map<string, string>;
  readonly chatTemplate: string | null;

  constructor(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>, files?: Map<string, string>) {
    try {
      this.#tok = new HFTokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new TokenizerError(`tokenizer.json: ${(e as Error).message}`);
    }
    this.files = files ?? new Map([
      ['tokenizer.json', JSON.stringify(tokenizerJson)],
      ['tokenizer_config.json', JSON.stringify(tokenizerConfig, null, 2)],
    ]);
    const id = (t: string | null): number | null => {
      if (t === null) return null;
      const i = this.#tok.token_to_id(t);
      if (i === undefined) throw new TokenizerError(`tokenizer_config.json: special token ${JSON.stringify(t)} is not in the vocabulary`);
      return i;
    };
    this.bosToken = tokenText(tokenizerConfig.bos_token);
    this.eosToken = tokenText(tokenizerConfig.eos_token);
    this.padToken = tokenText(tokenizerConfig.pad_token);
    this.bosTokenId = id(this.bosToken);
    this.eosTokenId = id(this.eosToken);
    this.padTokenId = id(this.padToken) ?? this.eosTokenId;
    this.#specialIds = new Set([...this.#tok.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([i]) => i));
    let vmax = -1;
    for (const i of this.#tok.get_vocab(true).values()) vmax = Math.max(vmax, i);
    this.vocabSize = vmax + 1;

    let tpl = tokenizerConfig.chat_template ?? null;
    if (Array.isArray(tpl)) {
      // the older list form: [{name, template}], 'default' is the one apply_chat_template uses
      const d = (tpl as { name?: string; template?: string }[]).find((t) => t.name === 'default');
      tpl = d?.template ?? null;
    }
    if (tpl !== null && typeof tpl !== 'string') throw new TokenizerError('tokenizer_config.json: chat_template must be a string or a list of {name, template}');
    this.chatTemplate = tpl;
    try {
      this.#template = tpl ? new Template(tpl) : null;
    } catch (e) {
      throw new TokenizerError(`tokenizer_config.json: chat_template does not parse: ${(e as Error).message}`);
    }
  }

  /** Reads tokenizer.json and tokenizer_config.json (and keeps the other tokenizer files) from a directory. */
  static fromDir(dir: string): Tokenizer {
    const files = new Map<string, string>();
    for (const f of TOKENIZER_FILES) {
      const p = path.join(dir, f);
      if (fs.existsSync(p)) files.set(f, fs.readFileSync(p, 'utf8'));
    }
    const parse = (f: string): Record<string, unknown> => {
      const s = files.get(f);
      if (s === undefined) throw new TokenizerError(`${path.join(dir, f)}: not found`);
      try {
        return JSON.parse(s);
      } catch (e) {
        throw new TokenizerError(`${path.join(dir, f)}: not valid JSON (${(e as Error).message})`);
      }
    };
    const cfg = parse('tokenizer_config.json');
    // transformers ≥ 4.43 may keep the template in its own file
    if (cfg.chat_template === undefined && files.has('chat_template.jinja')) cfg.chat_template = files.get('chat_template.jinja');
    else if (cfg.chat_template === undefined && files.has('chat_template.json')) cfg.chat_template = (JSON.parse(files.get('chat_template.json')!) as { chat_template?: unknown }).chat_template;
    return new Tokenizer(parse('tokenizer.json'), cfg, files);
  }

  /** Token ids of a text. `addSpecialTokens` runs the post-processor (e.g. Llama's BOS). */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.#tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  /**
   * Text of token ids. `cleanUpTokenizationSpaces` (default: tokenizer_config.json's
   * `clean_up_tokenization_spaces`, true when absent, as transformers.js) removes the space
   * before `. , ! ?` and contractions — `from . import x` becomes `from. import x` — so text
   * that is graded or trained on (rollouts) must pass `false`: the exact text of the tokens.
   */
  decode(ids: ArrayLike<number>, opts: { skipSpecialTokens?: boolean; cleanUpTokenizationSpaces?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.#tok.decode(Array.from(ids), {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      ...(opts.cleanUpTokenizationSpaces === undefined ? {} : { clean_up_tokenization_spaces: opts.cleanUpTokenizationSpaces }),
    });
  }

  tokenToId(token: string): number | undefined {
    return this.#tok.token_to_id(token);
  }
  idToToken(id: number): string | undefined {
    return this.#tok.id_to_token(id);
  }
  isSpecial(id: number): boolean {
    return this.#specialIds.has(id);
  }

  /**
   * Renders the chat template (as transformers' `apply_chat_template(tokenize=False)`):
   * variables `messages`, `add_generation_prompt`, `bos_token`, `eos_token`, `pad_token`, plus `extra`.
   */
  applyChatTemplate(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> } = {}): string {
    if (!this.#template) throw new TokenizerError('this tokenizer has no chat_template (tokenizer_config.json)');
    return this.#template.render({
      ...opts.extra,
      messages,
      add_generation_prompt: opts.addGenerationPrompt ?? false,
      bos_token: this.bosToken ?? '',
      eos_token: this.eosToken ?? '',
      pad_token: this.padToken ?? '',
    });
  }

  /** Token ids of a rendered chat (the template writes its own special tokens, so none are added). */
  encodeChat(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> } = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, { addGenerationPrompt: opts.addGenerationPrompt ?? true, extra: opts.extra }), { addSpecialTokens: false });
  }

  /** Writes the tokenizer files into a checkpoint directory. */
  save(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    for (const [f, s] of this.files) fs.writeFileSync(path.join(dir, f), s);
  }
}
