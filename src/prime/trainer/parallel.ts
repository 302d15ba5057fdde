/**
 * Data parallelism for the trainer (W ranks, one process each): this process's place in the job,
 * and the collectives the trainer needs — reductions of plain numbers, gradient all-reduce, rank
 * and config checks, parameter broadcast. Alone (W = 1) every method is the identity, so the
 * trainer's code is the same for one process and for many.
 *
 * Layout: every rank draws the same prompt rows; global prompt i of a round goes to rank i mod W,
 * so local group g of rank r is global group g·W + r of the step's batch.
 */
import * as torch from '../../torch/index.js';
import { type Tensor, tidy, noGrad } from '../../torch/index.js';
import type { PrimeConfig } from '../config.js';
import type { AllReduceSum } from '../masked.js';
import type { Metrics } from '../metrics.js';
import { fmix32 } from './seeds.js';

/**
 * How a step metric combines over data-parallel ranks. Default 'mean': ranks hold equal shares of
 * the batch, so a per-sequence mean over ranks is the batch's mean. 'global': computed from
 * reduced quantities already, the same on every rank.
 */
export function metricReduction(key: string): 'mean' | 'sum' | 'max' | 'min' | 'global' {
  if (key.startsWith('time/')) return 'max'; // the slowest rank sets the pace
  if (key.startsWith('actor/') || key.startsWith('dist/') || key.startsWith('prm/heldout')) return 'global';
  switch (key) {
    case 'rollout/accuracy': case 'rollout/prompts_drawn': case 'filter/kept_fraction': case 'response/length_mean':
    case 'response/truncated_fraction': case 'buffer/size_before_take': case 'prm/loss': case 'prm/grad_norm':
    case 'advantage/mean': case 'advantage/std': case 'advantage/process_return_mean': case 'reward/process_mean':
    case 'reward/process_norm_scale':
      return 'global';
    case 'response/length_max': case 'advantage/max':
      return 'max';
    case 'advantage/min':
      return 'min';
    case 'batch/sequences': case 'batch/response_tokens':
    case 'perf/rollout_flops': case 'perf/train_flops': // the job's FLOPs (perf/mfu_* stay per-rank means)
      return 'sum';
    default:
      return 'mean';
  }
}

/**
 * The device of this rank's models: model.device as given, except that a bare 'cuda' in a job
 * of several ranks becomes cuda:LOCAL_RANK (one GPU per rank, as torchrun jobs place them).
 */
export function rankDevice(device: string, localRank: number, world: number): string {
  return device === 'cuda' && world > 1 ? `cuda:${localRank}` : device;
}

/** trainer.dist_backend resolved: 'auto' is nccl for GPU models when the addon has NCCL, else gloo. */
export function chooseBackend(want: 'auto' | 'gloo' | 'nccl', device: string, available: string[]): 'gloo' | 'nccl' {
  if (want === 'nccl') {
    if (!available.includes('nccl')) throw new Error(`trainer.dist_backend: nccl is not available in this addon (it has ${available.join(', ') || 'none'}; build against a CUDA libtorch with NCCL, e.g. make build-cuda)`);
    if (!device.startsWith('cuda')) throw new Error(`trainer.dist_backend: nccl needs model.device on a GPU, got '${device}'`);
    return 'nccl';
  }
  if (want === 'gloo') return 'gloo';
  return device.startsWith('cuda') && available.includes('nccl') ? 'nccl' : 'gloo';
}

export class Parallel {
  /** Collectives this rank took part in, and gradient bytes it all-reduced, since the last resetCounters(). */
  collectives = 0;
  gradBytes = 0;
  /** Where the job is, for error messages (the trainer sets it to the step in progress). */
  where: () => string = () => '';
  private constructor(
    readonly rank: number,
    readonly world: number,
    /** Seconds a collective may wait (trainer.dist_timeout_s). */
    readonly timeoutS: number,
    /** This trainer created the process group (and destroys it in dispose). */
    readonly ownsGroup: boolean,
    /** Where the numbers of reduce() travel: the rank's GPU under NCCL, else the CPU. */
    readonly commDevice: string = 'cpu',
  ) {}

  /** True with more than one rank. */
  get active(): boolean {
    return this.world > 1;
  }

  static alone(): Parallel {
    return new Parallel(0, 1, 0, false);
  }

  /**
   * Joins the data-parallel job when WORLD_SIZE > 1 in the environment (torchrun's variables, as
   * `prime train --nproc N` sets them) or a process group of several ranks exists: creates the
   * group if needed (trainer.dist_backend: Gloo, or NCCL for GPU models). Alone otherwise.
   */
  static join(cfg: PrimeConfig): Parallel {
    const dist = torch.distributed;
    const adopted = dist.isInitialized();
    const world = adopted ? dist.getWorldSize() : (dist.envConfig().worldSize ?? 1);
    if (world <= 1) return Parallel.alone();
    const B = cfg.rollout.batch_prompts;
    if (B % world !== 0)
      throw new Error(`rollout.batch_prompts (${B}) must be divisible by the number of ranks (${world}): each rank contributes batch_prompts / ranks prompt groups per step`);
    const timeoutS = cfg.trainer.dist_timeout_s;
    const localRank = adopted ? dist.getLocalRank() : (dist.envConfig().localRank ?? dist.envConfig().rank ?? 0);
    const device = rankDevice(cfg.model.device ?? 'cpu', localRank, world);
    const backend = adopted ? dist.getBackend() : chooseBackend(cfg.trainer.dist_backend ?? 'auto', device, dist.availableBackends());
    if (!adopted) dist.initProcessGroup({ backend, timeoutMs: Math.round(timeoutS * 1000) });
    return new Parallel(dist.getRank(), world, timeoutS, !adopted, backend === 'nccl' ? device : 'cpu');
  }

  resetCounters(): void {
    this.collectives = 0;
    this.gradBytes = 0;
  }

  /** Runs a collective; a failure (a rank died, hung past the timeout, or failed) becomes an
   * error that says where this rank was. */
  collective<T>(what: string, fn: () => T): T {
    if (!this.active) return fn();
    this.collectives++;
    try {
      return fn();
    } catch (e) {
      const at = this.where();
      throw new Error(`rank ${this.rank} of ${this.world}: ${what} failed${at ? ` at ${at}` : ''}: ${(e as Error).message}\n` +
        `(another rank exited, failed, or did not reach this point within trainer.dist_timeout_s=${this.timeoutS} s; see its output)`);
    }
  }

  /** Elementwise reduction of numbers over ranks (float64); the identity when alone. */
  reduce(xs: number[], op: 'sum' | 'max' | 'min', what: string): number[] {
    if (!this.active || xs.length === 0) return xs;
    return this.collective(what, () => tidy(() => {
      const t = torch.tensor(Float64Array.from(xs)).to(this.commDevice as torch.Device);
      torch.distributed.allReduce(t, op);
      return t.toFlatArray();
    }));
  }
  /** Sums over ranks (for whitening and token means over the global batch); undefined when alone. */
  get allReduceSum(): AllReduceSum | undefined {
    return this.active ? (xs) => this.reduce(xs, 'sum', 'reducing batch token statistics') : undefined;
  }
  /** Maximum over ranks; undefined when alone. */
  get allReduceMax(): ((xs: number[]) => number[]) | undefined {
    return this.active ? (xs) => this.reduce(xs, 'max', 'reducing batch maxima') : undefined;
  }

  /** Every rank must run the same configuration, or their updates silently diverge. */
  checkSameConfig(cfg: PrimeConfig): void {
    if (!this.active) return;
    let h = 0;
    for (const ch of JSON.stringify(cfg)) h = fmix32((h ^ ch.charCodeAt(0)) + 0x9e3779b9);
    const [lo, hi] = this.reduce([h, -h], 'min', 'comparing configurations');
    if (lo !== h || -hi! !== h) throw new Error(`rank ${this.rank}: the ranks were started with different configurations (all ranks must get the same config file and overrides)`);
  }

  /** Rank 0's parameters of each named model on every rank (in place). */
  broadcastParameters(models: [string, { parameters(): Tensor[] }][]): void {
    if (!this.active) return;
    noGrad(() => {
      for (const [name, model] of models)
        this.collective(`broadcasting the ${name} parameters from rank 0`, () => {
          for (const p of model.parameters()) torch.distributed.broadcast(p, 0);
        });
    });
  }

  /**
   * Sums the gradients of `params` over ranks (bucketed all-reduce), before clipping and the
   * optimizer step. A rank that had no sequence in the mini-batch contributes zeros. A parameter
   * that got no gradient on any rank is left without one (AdamW then skips it, as it would in
   * one process): a 0/1 flag per parameter is summed in the same call.
   */
  allReduceGradients(params: Tensor[], what: string): void {
    if (!this.active) return;
    tidy(() => {
      const trainable = params.filter((p) => p.requiresGrad);
      const had = trainable.map((p) => {
        if (p.grad) return 1;
        p.grad = torch.zerosLike(p);
        return 0;
      });
      const grads = trainable.map((p) => p.grad!);
      const flags = torch.tensor(Float32Array.from(had)).to(trainable[0]!.dtype).to(trainable[0]!.device as torch.Device); // same dtype and device: packed into the same bucket
      const { bytes } = this.collective(`all-reducing the ${what} gradients`, () => torch.distributed.allReduceBucketed([...grads, flags], { op: 'sum' }));
      this.gradBytes += bytes;
      const anywhere = flags.toFlatArray();
      trainable.forEach((p, i) => anywhere[i] === 0 && p.zeroGrad());
    });
  }

  /** Where local sequence l (group ⌊l/K⌋, sample l mod K) sits in the step's global batch. */
  globalSeq(l: number, K: number): number {
    return (Math.floor(l / K) * this.world + this.rank) * K + (l % K);
  }
  /** The local index of global sequence G, or −1 when another rank holds it. */
  localSeq(G: number, K: number): number {
    const group = Math.floor(G / K);
    return group % this.world === this.rank ? Math.floor(group / this.world) * K + (G % K) : -1;
  }

  /** Step metrics of every rank combined as metricReduction says (two all-reduces). */
  reduceMetrics(m: Metrics): void {
    if (!this.active) return;
    const W = this.world;
    const keys = Object.keys(m).sort();
    const summed = keys.filter((k) => ['mean', 'sum'].includes(metricReduction(k)));
    const extreme = keys.filter((k) => ['max', 'min'].includes(metricReduction(k)));
    const sums = this.reduce(summed.map((k) => m[k]!), 'sum', 'reducing metrics');
    summed.forEach((k, i) => (m[k] = metricReduction(k) === 'mean' ? sums[i]! / W : sums[i]!));
    // min x = −max(−x): one all-reduce for both
    const maxes = this.reduce(extreme.map((k) => (metricReduction(k) === 'max' ? m[k]! : -m[k]!)), 'max', 'reducing metrics');
    extreme.forEach((k, i) => (m[k] = metricReduction(k) === 'max' ? maxes[i]! : -maxes[i]!));
  }

  /** Leaves the job if this trainer created the process group. */
  dispose(): void {
    if (this.ownsGroup) torch.distributed.destroyProcessGroup();
  }
}
