/**
 * Mixed precision for the trainer's models (`actor.dtype`, `prm.dtype`, `model.ref_dtype`; each ''
 * = `model.dtype`): a trained model in bfloat16 runs its forward and backward in bf16 while AdamW
 * steps float32 master weights (Micikevicius et al. 2018, "Mixed Precision Training" §3.1; verl's
 * FSDP `mixed_precision.param_dtype: bf16` with float32 parameters): gradients are moved into the
 * masters after every micro-batch's backward (accumulated, all-reduced and clipped in float32),
 * and the bf16 weights are re-rounded from the masters after each optimizer step. Log-softmax over
 * the vocabulary and every loss run in float32 whatever the weights (prime-ts/lm's logprobs). The
 * frozen reference (and a frozen PRM) is just cast: nothing is updated, so nothing needs masters.
 *
 * Checkpoints hold the float32 masters in the model's Hugging Face directory (so a resumed run
 * starts from the exact masters, and the saved weights are the full-precision ones); loading a
 * trained model always reads float32 first and rounds it, which gives the same masters on a fresh
 * start from a float32 checkpoint and on a resume.
 */
import { MasterWeights, keep, noGrad, type DType, type Tensor } from '../../torch/index.js';
import { loadPretrained, type Pretrained, type Device } from '../../lm/index.js';

/** A model the trainer updates, and the tensors its optimizer sees. */
export class TrainedWeights {
  constructor(readonly pre: Pretrained, readonly master: MasterWeights | null) {}

  /** What AdamW, gradient clipping and the data-parallel all-reduce act on: the masters when there are, else the parameters. */
  get optimized(): Tensor[] {
    return this.master ? this.master.master : this.pre.model.parameters();
  }
  /** After each backward: bf16 gradients into the float32 masters (accumulated); a no-op in float32. */
  afterBackward(): void {
    this.master?.gradsToMaster();
  }
  /** After each optimizer step: the bf16 weights re-rounded from the masters; a no-op in float32. */
  afterStep(): void {
    this.master?.masterToParams();
  }
  /** The masters by state-dict name (for savePretrained's `tensors`), or undefined in float32. */
  namedMasters(): Map<string, Tensor> | undefined {
    if (!this.master) return undefined;
    const names = this.pre.model.namedParameters().map(([n]) => n);
    return new Map(names.map((n, i) => [n, this.master!.master[i]!]));
  }
  dispose(): void {
    this.master?.dispose();
  }
}

/**
 * Loads a checkpoint for training in `dtype`. float32: as is. bfloat16: read in float32, whose
 * tensors become the masters (no copy), and the model's parameters are cast to bf16 on `device`.
 */
export function loadTrained(dir: string, dtype: DType, device: Device, opts: { tokenizer?: boolean } = {}): TrainedWeights {
  if (dtype === 'float32' || dtype === 'float64') return new TrainedWeights(loadPretrained(dir, { dtype, device, tokenizer: opts.tokenizer ?? true }), null);
  const pre = loadPretrained(dir, { dtype: 'float32', device, tokenizer: opts.tokenizer ?? true });
  // the float32 parameters' storage lives on in detached handles when the cast disposes them
  const full = noGrad(() => pre.model.parameters().map((p) => keep(p.detach())));
  pre.model.to(dtype);
  return new TrainedWeights(pre, new MasterWeights(pre.model.parameters(), { master: full }));
}
