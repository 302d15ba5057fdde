/**
 * Case tables for the twelve grader fault classes of issue #11 (classes 1–10: math grading;
 * 11 and 12 are tested in registry/tokenizer tests). Each row is a full response, a ground
 * truth, and the verdict a careful human grader gives; every class has right and wrong
 * answers. Shared by test/verify/math_classes.test.ts and bench/verify-diff.ts.
 */
import type { ExtractionMode } from '../../src/verify/index.js';

export interface ClassCase {
  /** Fault class of issue #11 (1–10). */
  cls: number;
  response: string;
  truth: string;
  equivalent: boolean;
  /** Extraction mode to grade with (default strict). */
  extraction?: ExtractionMode;
  note?: string;
}

const box = (s: string) => `Therefore the answer is $\\boxed{${s}}$.`;
const k = (cls: number, response: string, truth: string, equivalent: boolean, note?: string, extraction?: ExtractionMode): ClassCase => ({
  cls,
  response,
  truth,
  equivalent,
  ...(note === undefined ? {} : { note }),
  ...(extraction === undefined ? {} : { extraction }),
});
const L = 'lenient' as const;

export const CLASS_NAMES: Record<number, string> = {
  1: 'no box',
  2: 'equations / chains / ≈',
  3: 'several boxes',
  4: 'set and tuple notation',
  5: 'number formats',
  6: 'relations',
  7: 'matrices in array',
  8: 'real-number semantics',
  9: 'magnitude collapse',
  10: 'parenthesized arguments',
};

export const CLASS_CASES: ClassCase[] = [
  // 1 — no box. strict: a box or an explicit answer marker; lenient: also the last math span / number.
  k(1, 'So we get 12 apples in total.\n\nFinal Answer: The largest n is 34.', '34', true, 'marker, then a sentence'),
  k(1, 'Final Answer: The largest $n$ is $34$.', '34', true, 'marker, sentence with math spans'),
  k(1, 'Final Answer: The largest n is 35.', '34', false),
  k(1, '**Answer** $\\frac{1}{2}$', '0.5', true, 'Answer without a colon'),
  k(1, 'Answer 7', '7', true, 'Answer without a colon, bare'),
  k(1, 'Answer 8', '7', false),
  k(1, '## Final Answer\n$x = 3$', '3', true, 'heading marker'),
  k(1, 'The answer to this question requires care. We find $y=2$.', '2', false, 'strict: "answer to" is no marker, no box'),
  k(1, 'We compute 3+4 and obtain $7$', '7', false, 'strict: unboxed prose earns nothing'),
  k(1, 'We compute 3+4 and obtain $7$', '7', true, 'lenient: last math span', L),
  k(1, 'We compute 3+4 and obtain $8$', '7', false, 'lenient: last math span, wrong', L),
  k(1, 'Adding gives \\(\\frac{3}{4}\\)', '0.75', true, 'lenient: \\(…\\) span', L),
  k(1, 'The total is 1,234 dollars', '1234', true, 'lenient: final number', L),
  k(1, 'The total is 1,235 dollars', '1234', false, 'lenient: final number, wrong', L),
  k(1, 'First $x=2$, and the total count is 15', '15', true, 'lenient: a later number beats an earlier span', L),
  k(1, 'So the value is $\\sqrt{2}$ and we are done.', '\\sqrt{2}', true, 'lenient', L),
  k(1, 'no numbers here at all', '3', false, 'lenient: nothing to take', L),
  k(1, 'The answer is 5.', '5', true, 'answer-is marker (both modes)'),

  // 2 — equations, chains, ≈: compare the final right-hand side; the truth is read the same way.
  k(2, box('(p,q)=(3,2)'), '(3,2)', true, 'tuple left side'),
  k(2, box('(p,q)=(2,3)'), '(3,2)', false),
  k(2, box('|AB|=5'), '5', true, 'absolute value of a segment'),
  k(2, box('|AB|=6'), '5', false),
  k(2, box('V_1:V_2=1:8'), '\\frac{1}{8}', true, 'ratio left side, ratio value'),
  k(2, box('V_1:V_2=1:8'), '1:8', true),
  k(2, box('V_1:V_2=1:4'), '1:8', false),
  k(2, box('AB=4, CD=5'), '(4,5)', true, 'named values in order'),
  k(2, box('AB=5, CD=4'), '(4,5)', false, 'order matters against a tuple'),
  k(2, box('x = 5+5+1 = 11'), '11', true, 'chain'),
  k(2, box('x = 5+5+1 = 12'), '11', false),
  k(2, box('x \\approx 3.14159'), '\\pi', true, '≈ with enough digits'),
  k(2, box('x \\approx 3.14'), '\\pi', false, '≈ with too few digits (relTol 1e-4)'),
  k(2, box('x = 3\\sqrt{3} \\approx 5.196'), '3\\sqrt{3}', true, 'exact part of a chain with ≈'),
  k(2, box('x = 3\\sqrt{2} \\approx 4.24'), '3\\sqrt{3}', false),
  k(2, box('6'), 'n = 6', true, 'truth read the same way'),
  k(2, box('7'), 'n = 6', false),
  k(2, box('6'), '(p, q) = (6, 1)', false),
  k(2, box('1'), 'x^2+y^2=1', false, 'an equation that is not a named value'),
  k(2, box('x^2+y^2=1'), 'x^2+y^2=1', true),
  k(2, box('2x = 6'), '6', false, 'left side is not a name'),
  k(2, box('\\angle ABC = 30^\\circ'), '30', true, 'angle name'),
  k(2, box('[ABC] = 12'), '12', true, 'area bracket'),

  // 3 — several boxes are a list.
  k(3, 'The pairs are $\\boxed{(2,2)}$ and $\\boxed{(6,2)}$.', '(2,2), (6,2)', true),
  k(3, 'The pairs are $\\boxed{(2,2)}$ and $\\boxed{(6,2)}$.', '(6,2), (2,2)', true, 'a list is unordered'),
  k(3, 'The pairs are $\\boxed{(2,2)}$ and $\\boxed{(6,2)}$.', '(2,2)', false, 'only one of them'),
  k(3, '$\\boxed{1}, \\boxed{2}, \\boxed{3}$', '\\{1,2,3\\}', true),
  k(3, '$\\boxed{1}, \\boxed{2}$', '\\{1,2,3\\}', false),
  k(3, '$\\boxed{-1}$ or $\\boxed{4}$', '\\boxed{4}, \\boxed{-1}', true, 'truth as two boxes'),
  k(3, 'Step one gives \\boxed{3}. Then adding the rest we obtain \\boxed{10}.', '10', true, 'words between: the last box wins'),
  k(3, 'Step one gives \\boxed{3}. Then adding the rest we obtain \\boxed{10}.', '3, 10', false),
  k(3, '$\\boxed{x=1} \\quad \\boxed{x=-2}$', '1, -2', true),

  // 4 — set and tuple notation.
  k(4, box('{1,3}'), '\\{1,3\\}', true, 'set without backslashes'),
  k(4, box('{1,4}'), '\\{1,3\\}', false),
  k(4, box('\\{1,1,3\\}'), '\\{1,3\\}', true, 'duplicates in a set'),
  k(4, box('\\{1,1,3\\}'), '\\{1,3,4\\}', false),
  k(4, box('\\{1; 3\\}'), '\\{1,3\\}', true, '; between elements'),
  k(4, box('(1; 2)'), '(1,2)', true, '; in a tuple'),
  k(4, box('(1; 2)'), '(2,1)', false),
  k(4, box('x=1 \\text{ or } x=2'), '1, 2', true, 'or between alternatives'),
  k(4, box('x=1 \\text{ and } x=3'), '\\{1,2\\}', false),
  k(4, box('2 \\text{ and } 5'), '\\{2, 5\\}', true),
  k(4, box('x = 2 \\lor x = 5'), '2, 5', true, '\\lor'),

  // 5 — number formats.
  k(5, box('32,\\!349'), '32349', true, 'LaTeX thin space after the comma'),
  k(5, box('32,\\!348'), '32349', false),
  k(5, box('32\u2009349'), '32349', true, 'Unicode thin space'),
  k(5, box('1\\,000\\,000'), '10^6', true),
  k(5, box('3{,}5'), '3.5', true, 'LaTeX decimal comma'),
  k(5, box('0{,}25'), '\\frac{1}{4}', true, 'LaTeX decimal comma after 0'),
  k(5, box('0,1'), '0, 1', true, 'no space: still a list of solutions'),
  k(5, box('0,1'), '0.1', false, 'ambiguous: a list, not a decimal comma'),
  k(5, box('3,14159'), '\\pi', true, 'decimal comma, 5 decimals'),
  k(5, box('1,2'), '1.2', false, 'ambiguous: a list'),
  k(5, box('1,000'), '1', false, 'a thousands group, not a decimal comma'),
  k(5, box('12,50 €'), '12.5', true, 'currency sign and a decimal comma'),
  k(5, box('15 €'), '15', true, 'trailing currency'),
  k(5, box('16 €'), '15', false),
  k(5, box('25 m²'), '25', true, 'Unicode unit'),
  k(5, box('26 m²'), '25', false),
  k(5, box('40 pct'), '40', true),
  k(5, box('40 percent'), '40\\%', true),
  k(5, box('41 percent'), '40', false),

  // 6 — relations.
  k(6, box('x \\neq 3'), '(-\\infty,3)\\cup(3,\\infty)', true),
  k(6, box('x \\ne 3'), 'x \\neq 3', true),
  k(6, box('x != 3'), 'x \\neq 3', true),
  k(6, box('x \\ne 2'), 'x \\neq 3', false),
  k(6, box('-x > -1'), 'x < 1', true, 'negated variable'),
  k(6, box('-x < -1'), 'x < 1', false),
  k(6, box('2x \\le 6'), 'x \\le 3', true, 'scaled variable'),
  k(6, box('2x \\le 6'), 'x < 3', false),
  k(6, box('0 < f(x) < 1'), '(0,1)', true, 'function value in an interval'),
  k(6, box('0 < f(x) \\le 1'), '(0,1)', false),
  k(6, box('x >= 2'), '[2, \\infty)', true),
  k(6, box('5!=120'), '120', true, 'a factorial before = is not !='),

  // 7 — matrices in array environments.
  k(7, box('\\left[\\begin{array}{cc} 1 & 2 \\\\ 3 & 4 \\end{array}\\right]'), '\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}', true),
  k(7, box('\\left[\\begin{array}{cc} 1 & 2 \\\\ 4 & 3 \\end{array}\\right]'), '\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}', false),
  k(7, box('\\left(\\begin{array}{c|c} \\frac12 & 0 \\\\ 0 & 1 \\end{array}\\right)'), '\\begin{bmatrix} 0.5 & 0 \\\\ 0 & 1 \\end{bmatrix}', true),
  k(7, box('\\left[\\begin{array}{c} 1 \\\\ 2 \\end{array}\\right]'), '(1,2)', true, 'column vector'),
  k(7, box('\\left[\\begin{array}{c} 2 \\\\ 1 \\end{array}\\right]'), '(1,2)', false),
  k(7, box('\\left[\\begin{matrix} 1 & 0 \\\\ 0 & 1 \\end{matrix}\\right]'), '\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}', true),

  // 8 — real-number semantics.
  k(8, box('\\sqrt{1/n}'), '\\frac{1}{\\sqrt{n}}', true, 'differ only where not real'),
  k(8, box('(-8)^{1/3}'), '-2', true, 'odd root of a negative is real'),
  k(8, box('(-8)^{1/3}'), '2', false),
  k(8, box('\\sqrt[3]{-27}'), '-3', true),
  k(8, box('\\sqrt[3]{x}'), 'x^{1/3}', true),
  k(8, box('\\sqrt{x^2}'), 'x', false, 'still rejected: |x| ≠ x for x < 0'),
  k(8, box('\\sqrt{x^2}'), '|x|', true),
  k(8, box('\\sqrt{x}\\sqrt{y}'), '\\sqrt{xy}', true, 'equal wherever both are real'),
  k(8, box('\\sqrt{x-3}'), '(x-3)^{1/2}', true, 'domain missed by the first points'),
  k(8, box('x^{2/3}'), '\\sqrt[3]{x^2}', true),
  k(8, box('\\sqrt{-4}'), '2i', true, 'complex answers stay complex'),
  k(8, box('\\sqrt{-4}'), '-2i', false),
  k(8, box('\\ln(x^2)'), '2\\ln x', true, 'equal on the common real domain x > 0'),

  // 9 — magnitude collapse.
  k(9, box('\\frac{1}{2006!}'), '\\frac{1}{2004!}', false),
  k(9, box('\\frac{1}{2006!}'), '\\frac{1}{2006 \\cdot 2005 \\cdot 2004!}', true),
  k(9, box('2006!'), '2004!', false),
  k(9, box('2006!'), '2006 \\cdot 2005 \\cdot 2004!', true),
  k(9, box('e^{-40}'), '0', false),
  k(9, box('e^{-40}'), '\\frac{1}{e^{40}}', true),
  k(9, box('e^{-1000}'), '0', false, 'underflow is never equality'),
  k(9, box('e^{1000}'), 'e^{1001}', false, 'overflow is never equality'),
  k(9, box('10^{-20}'), '0', false),
  k(9, box('\\sin(\\pi)'), '0', true, 'cancellation noise is absorbed'),
  k(9, box('\\cos(\\pi/2)'), '0', true),
  k(9, box('3000!'), '2999!', false, 'beyond the exact cap: lost, never equal'),
  k(9, box('2^{100}'), '2^{100}+1', false),

  // 10 — parenthesized arguments.
  k(10, box('\\sqrt(2)'), '\\sqrt{2}', true),
  k(10, box('4\\sqrt(2)'), '\\sqrt{32}', true),
  k(10, box('4\\sqrt(3)'), '\\sqrt{32}', false),
  k(10, box('\\sqrt(x+1)'), '\\sqrt{x+1}', true),
  k(10, box('\\sqrt[3](8)'), '2', true),
  k(10, box('\\frac{\\sqrt(3)}{2}'), '\\frac{\\sqrt{3}}{2}', true),
  k(10, box('\\frac{\\sqrt(3)}{2}'), '\\frac{\\sqrt{2}}{2}', false),
  // Guards: non-equivalent answers the new rules must still reject (and a few they accept).
  k(2, box('x = 3'), 'y = 3', false, 'different variables stay different'),
  k(2, box('x^2 = 4'), '4', false, 'x^2 is not a name'),
  k(2, box('x = 1, y = 2'), '(2, 1)', false, 'named values out of order'),
  k(2, box('V_1:V_2 = 1:8'), '8', false),
  k(2, box('m\\angle A = 30'), '30', true),
  k(3, '$\\boxed{2}$ or $\\boxed{3}$', '2', false, 'hedging between two boxes'),
  k(4, box('{1,3}'), '(1,3)', false, 'a set is not a tuple'),
  k(6, box('-x > 1'), 'x > -1', false, 'a negative coefficient flips'),
  k(6, box('-2x > 4'), 'x < -2', true),
  k(6, box('x \\ne 3'), 'x \\ne -3', false),
  k(8, box('\\sqrt{-x}'), '\\sqrt{x}', false, 'disjoint real domains: compared as complex'),
  k(8, box('\\sqrt{x-3}'), '\\sqrt{3-x}', false),
  k(8, box('\\ln(-x)'), '\\ln x', false),
  k(8, box('(-8)^{2/3}'), '4', true),
  k(8, box('(-8)^{2/3}'), '-4', false),
  k(8, box('\\sqrt{x}\\sqrt{y}'), '-\\sqrt{xy}', false),
  k(9, box('0.00000000000001'), '0', false, 'no absolute floor'),
  k(9, box('\\frac{1}{3000!}'), '\\frac{1}{2999!}', false, 'underflow past the exact cap'),
  k(9, box('e^{-40}'), 'e^{-41}', false),
];
