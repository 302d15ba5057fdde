/**
 * Public math test sets → Eurus-2-RL-Data rows (data.ts), for `prime eval` and `prime train`.
 *
 *   gsm8k     {question, answer}: GSM8K (Cobbe et al., 2021); the worked solution's last line is
 *             `#### <number>`, whose number (thousands separators removed) is the ground truth
 *   math500   {problem, answer, subject, level, unique_id}: MATH-500 (Lightman et al., 2023, the
 *             500-problem subset of MATH, Hendrycks et al., 2021); `answer` is the boxed LaTeX
 *
 * Each row becomes one user message: the problem followed by the instruction Eurus-2-RL-Data's
 * math prompts end with (`Present the answer in LaTex format: \boxed{Your answer}`), ability
 * `math`, `reward_model: {style: 'rule', ground_truth}`, and `extra_info` with the split, the row
 * index and (MATH-500) subject, level and id. A malformed record is an error naming the file, the
 * 1-based line and the field.
 */
import { readFile } from 'node:fs/promises';
import { writePromptRowsJsonl, type NewPromptRow } from './data.js';

export const MATH_SETS = ['gsm8k', 'math500'] as const;
export type MathSet = (typeof MATH_SETS)[number];

/** The instruction Eurus-2-RL-Data appends to its math problems. */
export const BOXED_INSTRUCTION = 'Present the answer in LaTex format: \\boxed{Your answer}';

const str = (rec: Record<string, unknown>, key: string, at: string): string => {
  const v = rec[key];
  if (typeof v !== 'string' || !v.trim()) throw new Error(`${at}: field '${key}' must be a non-empty string, got ${JSON.stringify(v)?.slice(0, 60)}`);
  return v;
};

/** GSM8K's final answer: the number after the last `####`, commas removed. */
export function gsm8kAnswer(solution: string, at = 'gsm8k'): string {
  const i = solution.lastIndexOf('####');
  if (i < 0) throw new Error(`${at}: field 'answer' has no '#### <number>' line`);
  const a = solution.slice(i + 4).trim().replace(/,/g, '');
  if (!/^-?\d+(\.\d+)?$/.test(a)) throw new Error(`${at}: field 'answer' ends with '#### ${a}', not a number`);
  return a;
}

/** Converts one record of a set to a prompt row. */
export function mathSetRow(set: MathSet, rec: Record<string, unknown>, index: number, at: string): NewPromptRow {
  const question = set === 'gsm8k' ? str(rec, 'question', at) : str(rec, 'problem', at);
  const groundTruth = set === 'gsm8k' ? gsm8kAnswer(str(rec, 'answer', at), at) : str(rec, 'answer', at).trim();
  const extraInfo: Record<string, unknown> = { split: 'test', index };
  if (set === 'math500') for (const k of ['subject', 'level', 'unique_id']) if (rec[k] !== undefined) extraInfo[k] = rec[k];
  return {
    dataSource: set,
    messages: [{ role: 'user', content: `${question.trim()}\n\n${BOXED_INSTRUCTION}` }],
    ability: 'math',
    groundTruth,
    extraInfo,
  };
}

/** Reads a set's JSONL file and writes it as Eurus-2 JSONL; returns the row count. */
export async function convertMathSet(set: MathSet, inFile: string, outFile: string): Promise<number> {
  const lines = (await readFile(inFile, 'utf8')).split('\n');
  const rows: NewPromptRow[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const at = `${inFile}: line ${i + 1}`;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      throw new Error(`${at}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new Error(`${at}: not a JSON object`);
    rows.push(mathSetRow(set, rec as Record<string, unknown>, rows.length, at));
  });
  await writePromptRowsJsonl(outFile, rows);
  return rows.length;
}
