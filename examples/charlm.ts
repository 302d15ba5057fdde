/**
 * A small end-to-end example of prime-ts/torch: a character-level MLP language model trained
 * for a few hundred AdamW steps on a built-in text; prints the loss falling and a sample.
 * Run: `node dist/examples/charlm.js` after `make build`.
 */
import * as torch from '../src/torch/index.js';
import { Embedding, Linear, Module, type Tensor } from '../src/torch/index.js';

const TEXT = `the quick brown fox jumps over the lazy dog. a stitch in time saves nine.
to be or not to be, that is the question. all that glitters is not gold.
the early bird catches the worm. practice makes perfect. knowledge is power.
`.repeat(20);

const CONTEXT = 8; // characters of context
class CharMLP extends Module {
  emb: Embedding; hidden: Linear; out: Linear;
  constructor(vocab: number, dim = 32, width = 256) {
    super();
    this.emb = this.child('emb', new Embedding(vocab, dim));
    this.hidden = this.child('hidden', new Linear(CONTEXT * dim, width));
    this.out = this.child('out', new Linear(width, vocab));
  }
  forward(ctx: Tensor): Tensor { // ctx: (B, CONTEXT) -> logits (B, vocab)
    const e = this.emb.forward(ctx); // (B, CONTEXT, dim)
    return this.out.forward(this.hidden.forward(e.flatten(1)).tanh());
  }
}

torch.manualSeed(0);
const chars = [...new Set(TEXT)].sort();
const ids = Array.from(TEXT, (c) => chars.indexOf(c));
const model = new CharMLP(chars.length);
const opt = new torch.AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0 });
const data = torch.keep(torch.tensor(ids));
const windows = ids.length - CONTEXT;
console.log(`char-MLP: ${model.numParameters()} parameters, ${chars.length} symbols, ${ids.length} characters`);
const t0 = Date.now();
for (let step = 0; step <= 400; step++) {
  const loss = torch.tidy(() => {
    const starts = torch.randint(0, windows, [64, 1]);
    const pos = starts.add(torch.arange(CONTEXT + 1)); // (64, CONTEXT+1)
    const seq = data.index([pos]);
    const logits = model.forward(seq.slice(1, 0, CONTEXT));
    const l = torch.crossEntropy(logits, seq.select(1, CONTEXT));
    l.backward();
    return l.item();
  });
  torch.clipGradNorm(model.parameters(), 1.0);
  opt.step();
  opt.zeroGrad();
  if (step % 50 === 0) console.log(`step ${String(step).padStart(3)}  loss ${loss.toFixed(3)}  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
// greedy continuation of a prompt
let ctx = Array.from('the quic', (c) => chars.indexOf(c));
let out = 'the quic';
torch.noGrad(() => {
  for (let i = 0; i < 60; i++) {
    const next = torch.tidy(() => model.forward(torch.tensor([ctx])).argmax(-1).item());
    out += chars[next];
    ctx = [...ctx.slice(1), next];
  }
});
console.log(`sample: ${JSON.stringify(out)}`);
console.log(`live tensors at the end: ${torch.memory().tensors}`);
