/**
 * The embedded default task: multi-step arithmetic written out step by step, generated from a
 * seed. A problem is a chain of +, − (and optionally ×) over small integers; its worked solution
 * evaluates it one operation per step and ends in `\boxed{answer}`, so the math verifier grades
 * it and the implicit PRM has intermediate steps to credit.
 *
 *   question: "Compute 23+45-17+8."
 *   solution: "23+45=68\n68-17=51\n51+8=59\n\boxed{59}"
 *
 * Difficulty knobs: the number of operands, the operand range, and whether × appears
 * (× binds tighter than ±, so its steps come first). `shortcutFraction` makes that share of the
 * SFT demonstrations skip the working ("\boxed{59}" alone), as noisy real SFT data does: the SFT
 * model then answers some problems without working, and RL must discover that writing the steps
 * pays — a lesson that generalizes to unseen problems, decided in the first response tokens.
 * `carryDropFraction` makes the demonstrations drop the carry at that share of the addition steps
 * that need one: the SFT model then makes that step-level mistake, greedy too, at a step that the
 * outcome alone does not point to (the embedded default; see demo/run.ts).
 */
import { mulberry32, type PromptRow } from '../data.js';

export interface ArithmeticOptions {
  /** Fewest and most operands per problem (steps = operands − 1). */
  minOperands: number;
  maxOperands: number;
  /** Operands are drawn from [1, maxOperand]. */
  maxOperand: number;
  /** Include × (operands of a product are kept ≤ 12). */
  multiply: boolean;
  /** Share of worked solutions that skip the steps (answer only). */
  shortcutFraction?: number;
  /**
   * Share of the addition steps that need a carry (acc ≥ 0 and (acc mod 10) + x ≥ 10) whose
   * demonstrated result drops it (writes acc + x − 10); the demonstration then continues from the
   * wrong value, so its boxed answer is wrong too. The ground truth stays the true answer.
   */
  carryDropFraction?: number;
}
export const DEFAULT_ARITHMETIC: ArithmeticOptions = { minOperands: 3, maxOperands: 4, maxOperand: 50, multiply: false, shortcutFraction: 0 };

export interface ArithmeticProblem {
  question: string;
  steps: string[];
  answer: number;
  /** The worked solution, ending in \boxed{answer}. */
  solution: string;
}

const randInt = (rand: () => number, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

export function generateProblem(rand: () => number, o: ArithmeticOptions = DEFAULT_ARITHMETIC): ArithmeticProblem {
  const n = randInt(rand, o.minOperands, o.maxOperands);
  const ops: string[] = [];
  for (let i = 0; i < n - 1; i++) ops.push(o.multiply && rand() < 0.3 ? '*' : rand() < 0.5 ? '+' : '-');
  const nums: number[] = [];
  for (let i = 0; i < n; i++) {
    const inProduct = ops[i - 1] === '*' || ops[i] === '*';
    nums.push(randInt(rand, 1, inProduct ? Math.min(12, o.maxOperand) : o.maxOperand));
  }
  const question = `Compute ${nums.map((x, i) => (i ? ops[i - 1] : '') + x).join('')}.`;
  // Evaluate: products first (left to right), then sums and differences left to right.
  const steps: string[] = [];
  let vals = nums.slice(), os = ops.slice();
  for (let i = 0; i < os.length; ) {
    if (os[i] === '*') {
      const r = vals[i]! * vals[i + 1]!;
      steps.push(`${vals[i]}*${vals[i + 1]}=${r}`);
      vals.splice(i, 2, r);
      os.splice(i, 1);
    } else i++;
  }
  let acc = vals[0]!;
  for (let i = 0; i < os.length; i++) {
    const r = os[i] === '+' ? acc + vals[i + 1]! : acc - vals[i + 1]!;
    steps.push(`${acc}${os[i]}${vals[i + 1]}=${r}`);
    acc = r;
  }
  // the demonstration: the same chain, with the carry dropped at a share of the steps that need one
  let shown = acc;
  let demoSteps = steps;
  if ((o.carryDropFraction ?? 0) > 0) {
    demoSteps = [];
    let a = vals[0]!;
    for (let i = 0; i < os.length; i++) {
      const x = vals[i + 1]!;
      let r = os[i] === '+' ? a + x : a - x;
      if (os[i] === '+' && a >= 0 && (a % 10) + (x % 10) >= 10 && rand() < o.carryDropFraction!) r -= 10;
      demoSteps.push(`${a}${os[i]}${x}=${r}`);
      a = r;
    }
    shown = a;
  }
  const shortcut = rand() < (o.shortcutFraction ?? 0);
  return { question, steps, answer: acc, solution: shortcut ? `\\boxed{${shown}}` : `${demoSteps.join('\n')}\n\\boxed{${shown}}` };
}

export const USER_SUFFIX = ' Answer in \\boxed{}.';

/** A problem as an Eurus-2-RL-Data row (chat prompt, math ability, rule ground truth). */
export function problemToRow(p: ArithmeticProblem, index: number, split: string): PromptRow {
  return {
    dataSource: 'synthetic_arithmetic',
    messages: [{ role: 'user', content: p.question + USER_SUFFIX }],
    ability: 'math',
    groundTruth: String(p.answer),
    extraInfo: { split, index, solution: p.solution },
    row: index,
    file: '<generated>',
  };
}

/**
 * Generates `nTrain` + `nTest` distinct problems from `seed`; a question never appears in both
 * splits (duplicates are redrawn).
 */
export function generateSplits(seed: number, nTrain: number, nTest: number, o: ArithmeticOptions = DEFAULT_ARITHMETIC): { train: ArithmeticProblem[]; test: ArithmeticProblem[] } {
  const rand = mulberry32(seed);
  const seen = new Set<string>();
  const draw = (n: number) => {
    const out: ArithmeticProblem[] = [];
    let attempts = 0;
    while (out.length < n) {
      if (++attempts > n * 50) throw new Error(`generateSplits: cannot find ${n} distinct problems with these options; widen the ranges`);
      const p = generateProblem(rand, o);
      if (seen.has(p.question)) continue;
      seen.add(p.question);
      out.push(p);
    }
    return out;
  };
  const test = draw(nTest);
  const train = draw(nTrain);
  return { train, test };
}

/** One worked line `a±b=r` (a may be negative, b not), with the result the operation really gives; null for any other line. */
export interface StepLine { a: number; op: '+' | '-'; b: number; result: number; right: number }
export function parseStepLine(line: string): StepLine | null {
  const m = /^(-?\d+)([+-])(\d+)=(-?\d+)$/.exec(line.trim());
  if (!m) return null;
  const a = Number(m[1]), b = Number(m[3]), op = m[2] as '+' | '-';
  return { a, op, b, result: Number(m[4]), right: op === '+' ? a + b : a - b };
}

/** What `checkWorking` finds in a worked response to a ± chain. */
export interface WorkingCheck {
  /** Lines of the form `a±b=c` the response writes. */
  steps: number;
  /** Index (0-based, among those lines) of the first line that is not the chain's next step done right; −1 if none. */
  firstWrongStep: number;
  /** Every step of the chain written, each on the running value and the question's next operand, each result right, and the box equal to the last result. */
  processCorrect: boolean;
}

/** The signed operands of a ± chain question ("Compute 23+45-17+8." → [23, 45, −17, 8]); null for any other question. */
function chainOperands(question: string): number[] | null {
  const q = /Compute (-?\d+(?:[+-]\d+)+)\./.exec(question);
  return q ? q[1]!.match(/^-?\d+|[+-]\d+/g)!.map(Number) : null;
}

/**
 * Checks the working of a response to a ± chain question ("Compute 23+45-17+8."), step by step,
 * as a process verifier would: step k must read `v_k op_k x_{k+1}=v_{k+1}` with v_0 the first
 * operand, x the question's operands in order and v_{k+1} the true result of that step on the
 * value the previous line wrote. A response can box the right answer with wrong steps (two
 * slips that cancel, or a last line whose result does not follow from its operands): the outcome
 * grader accepts it, this does not. Returns null for questions this does not parse (×, or not a chain).
 */
export function checkWorking(question: string, response: string): WorkingCheck | null {
  const nums = chainOperands(question);
  if (!nums) return null;
  let value = nums[0]!, k = 0, firstWrong = -1;
  const stepLines = response.split('\n').map(parseStepLine).filter((x): x is StepLine => x !== null);
  for (const st of stepLines) {
    const x = nums[k + 1];
    const b = st.op === '+' ? st.b : -st.b;
    if (firstWrong < 0 && (x === undefined || st.a !== value || b !== x || st.result !== st.right)) firstWrong = k;
    value = st.result;
    k++;
  }
  const boxed = /\\boxed\{(-?\d+)\}/.exec(response);
  const complete = stepLines.length === nums.length - 1;
  if (firstWrong < 0 && !complete) firstWrong = Math.min(stepLines.length, nums.length - 1);
  return { steps: stepLines.length, firstWrongStep: firstWrong, processCorrect: firstWrong < 0 && complete && boxed !== null && Number(boxed[1]) === value };
}

/**
 * A process verifier's token rewards for a worked response to a ± chain: `penalty` on the token
 * that holds the first character where the response departs from the chain's worked solution
 * (`v op x=v'` per step, then `\\boxed{answer}`: the demonstrations' format), 0 on every other
 * token; a response that is a strict prefix of that solution takes it on its last token; a
 * process-correct response (checkWorking) gets all zeros, whatever its format. On a step that
 * drops a carry ("17+8=15") the penalty lands on the wrong digit ('1'), the token a perfect
 * token-level PRM would blame. For ablations that bound what dense rewards can give
 * (TrainerOptions.processRewards; bench/replication.ts's `oracle` methods); a response written in
 * another format than the demonstrations' is blamed at its first difference.
 *
 * `pieces` are the response's tokens decoded one by one (their concatenation is the response's
 * text). Returns one reward per piece, or null for a question checkWorking does not parse.
 */
export function firstWrongStepRewards(question: string, pieces: readonly string[], penalty = -1): number[] | null {
  const text = pieces.join('');
  const w = checkWorking(question, text);
  if (!w) return null;
  const rewards = new Array<number>(pieces.length).fill(0);
  if (w.processCorrect || pieces.length === 0) return rewards;
  const nums = chainOperands(question)!; // checkWorking parsed it
  const lines: string[] = [];
  let v = nums[0]!;
  for (const x of nums.slice(1)) {
    lines.push(`${v}${x < 0 ? '-' : '+'}${Math.abs(x)}=${v + x}`);
    v += x;
  }
  const solution = `${lines.join('\n')}\n\\boxed{${v}}`;
  let at = 0;
  while (at < text.length && at < solution.length && text[at] === solution[at]) at++;
  at = Math.min(at, text.length - 1); // a strict prefix of the solution: its last character
  let end = 0;
  for (let t = 0; t < pieces.length; t++) {
    end += pieces[t]!.length;
    if (end > at) { rewards[t] = penalty; return rewards; }
  }
  rewards[pieces.length - 1] = penalty;
  return rewards;
}
