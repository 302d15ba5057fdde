/**
 * The math grading case table, shared by test/verify/math_cases.test.ts (which fails on any
 * mismatch) and bench/verify.ts (which times grading over it).
 *
 * Each case is an answer as a model would box it, a ground truth, and the verdict a careful
 * human grader would give. `response` overrides the default response `\boxed{answer}`.
 * Cases were written by hand to cover every rule in README.md, including pairs where a naive
 * grader — plain string equality, or parseFloat on both sides — is wrong in either direction
 * (the test computes and reports those counts).
 */

export interface MathCase {
  category: string;
  answer: string;
  truth: string;
  equivalent: boolean;
  /** A full response to grade instead of `\boxed{answer}`. */
  response?: string;
  note?: string;
}

const c = (category: string, answer: string, truth: string, equivalent: boolean, note?: string): MathCase => ({
  category,
  answer,
  truth,
  equivalent,
  ...(note === undefined ? {} : { note }),
});

export const MATH_CASES: MathCase[] = [
  // --- fractions -----------------------------------------------------------------------
  c('fraction', '\\frac{1}{2}', '0.5', true),
  c('fraction', '\\dfrac{1}{2}', '\\frac{1}{2}', true),
  c('fraction', '\\tfrac12', '\\frac{1}{2}', true),
  c('fraction', '1/2', '\\frac{1}{2}', true),
  c('fraction', '\\frac{2}{4}', '\\frac{1}{2}', true),
  c('fraction', '\\frac{-3}{4}', '-\\frac{3}{4}', true),
  c('fraction', '-0.75', '-\\frac{3}{4}', true),
  c('fraction', '\\frac{3}{4}', '-\\frac{3}{4}', false, 'sign'),
  c('fraction', '\\frac{4}{3}', '\\frac{3}{4}', false, 'inverted'),
  c('fraction', '2\\frac{1}{2}', '\\frac{5}{2}', true, 'mixed number'),
  c('fraction', '\\frac{5}{2}', '2.5', true),
  c('fraction', '\\frac{10}{3}', '3\\frac{1}{3}', true, 'mixed number in the truth'),
  c('fraction', '\\frac{1}{3}', '\\frac{1}{4}', false),
  c('fraction', '\\frac{22}{7}', '\\pi', false, 'close but not within 1e-4'),
  c('fraction', '\\frac{a}{b}', 'a/b', true),

  // --- decimals and tolerance -------------------------------------------------------------
  c('tolerance', '0.333', '\\frac{1}{3}', false, 'relative error 1e-3 > default 1e-4'),
  c('tolerance', '0.3333', '\\frac{1}{3}', true, 'relative error 1e-4'),
  c('tolerance', '0.33333', '\\frac{1}{3}', true),
  c('tolerance', '3.14', '\\pi', false),
  c('tolerance', '3.14159', '\\pi', true),
  c('tolerance', '5.0', '5', true),
  c('tolerance', '5.00', '5', true),
  c('tolerance', '.5', '0.5', true),
  c('tolerance', '1.5e3', '1500', true),
  c('tolerance', '2.5', '2.6', false),
  c('tolerance', '0.001', '10^{-3}', true),
  c('tolerance', '0.0012', '0.001', false),
  c('tolerance', '0.\\overline{3}', '\\frac{1}{3}', true, 'repeating decimal'),
  c('tolerance', '1.41421', '\\sqrt{2}', true),
  c('tolerance', '1.414', '\\sqrt{2}', false),

  // --- integers (exact) --------------------------------------------------------------------
  c('integer', '42', '42', true),
  c('integer', '+42', '42', true),
  c('integer', '-42', '42', false),
  c('integer', '007', '7', true),
  c('integer', '1000000', '1000001', false, 'a float tolerance would accept this'),
  c('integer', '2^{64}', '18446744073709551616', true),
  c('integer', '2^{64}', '18446744073709551617', false, 'exact beyond 2^53'),
  c('integer', '12345678901234567890', '12345678901234567891', false),
  c('integer', '3^4', '81', true),
  c('integer', '10^{10^{10}}', '1', false, 'must not hang'),
  c('integer', '0', '-0', true),
  c('integer', '1,000', '1000', true, 'thousands separator'),
  c('integer', '1,000', '1', false, 'parseFloat says 1'),
  c('integer', '10,\\!000', '10000', true),
  c('integer', '1{,}000{,}000', '1000000', true),
  c('integer', '1\\,000', '1000', true),
  c('integer', '1,234.5', '1234.5', true),

  // --- radicals ----------------------------------------------------------------------------
  c('radical', '\\sqrt{8}', '2\\sqrt{2}', true),
  c('radical', '2\\sqrt{2}', '2', false, 'parseFloat says 2'),
  c('radical', '\\frac{1}{\\sqrt{2}}', '\\frac{\\sqrt{2}}{2}', true),
  c('radical', '\\sqrt2/2', '\\frac{\\sqrt{2}}{2}', true),
  c('radical', '\\sqrt[3]{8}', '2', true),
  c('radical', '\\sqrt[3]{-8}', '-2', true, 'real odd root'),
  c('radical', '\\sqrt{12}', '3\\sqrt{2}', false),
  c('radical', '3\\sqrt{3}', '\\sqrt{27}', true),
  c('radical', '\\sqrt{2}+\\sqrt{3}', '\\sqrt{5+2\\sqrt{6}}', true, 'denested'),
  c('radical', '4^{1/2}', '2', true),
  c('radical', '8^{2/3}', '4', true),
  c('radical', '\\sqrt{x^2}', '|x|', true),
  c('radical', '\\sqrt{x^2}', 'x', false, 'differs for x < 0'),

  // --- pi --------------------------------------------------------------------------------
  c('pi', '2\\pi', '\\pi \\cdot 2', true),
  c('pi', '\\frac{\\pi}{2}', '\\frac{1}{2}\\pi', true),
  c('pi', '\\frac{\\pi}{2}', '90', false),
  c('pi', '\\pi r^2', 'r^2\\pi', true),
  c('pi', '4\\pi', '2\\pi', false),
  c('pi', '\\frac{4}{3}\\pi', '\\frac{4\\pi}{3}', true),
  c('pi', '2pi', '2\\pi', true, 'bare pi'),

  // --- polynomials -----------------------------------------------------------------------
  c('polynomial', '(x+1)^2', 'x^2+2x+1', true),
  c('polynomial', 'x^2+2x+1', 'x^2+2x+2', false),
  c('polynomial', '(x-1)(x+1)', 'x^2-1', true),
  c('polynomial', '2x', 'x \\cdot 2', true),
  c('polynomial', '2x', '3', false),
  c('polynomial', '3x', '3', false, 'parseFloat says 3'),
  c('polynomial', 'x^3', 'x^2', false),
  c('polynomial', 'a^2-b^2', '(a-b)(a+b)', true),
  c('polynomial', 'a^2-b^2', '(a-b)^2', false),
  c('polynomial', '6x^2+5x+1', '(2x+1)(3x+1)', true),
  c('polynomial', 'x y', 'yx', true),
  c('polynomial', 'x^{2}', 'x^2', true),

  // --- rational expressions ----------------------------------------------------------------
  c('rational', '\\frac{x^2-1}{x-1}', 'x+1', true, 'equal away from x = 1'),
  c('rational', '\\frac{1}{x+1}', '\\frac{1}{x-1}', false),
  c('rational', '\\frac{2}{x}+\\frac{3}{x}', '\\frac{5}{x}', true),
  c('rational', '\\frac{x}{x^2+x}', '\\frac{1}{x+1}', true),
  c('rational', '\\frac{1}{x}+\\frac{1}{y}', '\\frac{x+y}{xy}', true),
  c('rational', '\\frac{1}{x}+\\frac{1}{y}', '\\frac{1}{x+y}', false),

  // --- equations -------------------------------------------------------------------------
  c('equation', 'x = 3', '3', true),
  c('equation', '3', 'x=3', true),
  c('equation', 'x=3', 'x=4', false),
  c('equation', 'y = 2x+1', '2x+1', true),
  c('equation', 'y=2x+1', '2x - y + 1 = 0', true, 'same line'),
  c('equation', 'y=2x+1', 'y=2x+2', false),
  c('equation', '3 = x', 'x = 3', true),
  c('equation', 'x^2+y^2=4', '2x^2+2y^2=8', true),
  c('equation', 'f(x) = x^2', 'x^2', true),
  c('equation', 'a_n = 2n+1', '2n+1', true),
  c('equation', 'k = 5', '6', false),

  // --- tuples (ordered) --------------------------------------------------------------------
  c('tuple', '(1,2)', '(1, 2)', true),
  c('tuple', '(2,1)', '(1,2)', false, 'order matters'),
  c('tuple', '(1,2,3)', '(1,2)', false),
  c('tuple', '(\\frac{1}{2}, 3)', '(0.5, 3)', true),
  c('tuple', '\\left( 1, -2 \\right)', '(1,-2)', true),
  c('tuple', '(1, \\sqrt{2})', '(1, \\frac{2}{\\sqrt{2}})', true),
  c('tuple', '(3, 4)', '(3, 5)', false),

  // --- sets (any order) --------------------------------------------------------------------
  c('set', '\\{1,2\\}', '\\{2,1\\}', true),
  c('set', '\\{1,2\\}', '\\{1,3\\}', false),
  c('set', '\\{1,2,2\\}', '\\{1,2\\}', true, 'duplicates ignored'),
  c('set', '\\{3\\}', '3', true),
  c('set', '\\emptyset', '\\varnothing', true),
  c('set', '\\{\\frac{1}{2}, -1\\}', '\\{-1, 0.5\\}', true),
  c('set', '\\left\\{ 1, 2, 3 \\right\\}', '\\{3,2,1\\}', true),
  c('set', '\\{1,2\\}', '\\{1,2,3\\}', false),

  // --- intervals ---------------------------------------------------------------------------
  c('interval', '(1,2]', '[1,2]', false, 'brackets matter'),
  c('interval', '(1,2]', '(1, 2]', true),
  c('interval', '[0, \\infty)', '[0,\\infty)', true),
  c('interval', '(-\\infty, 0) \\cup (1, \\infty)', '(1,\\infty)\\cup(-\\infty,0)', true, 'union in any order'),
  c('interval', '(-\\infty, 0) \\cup (1, \\infty)', '(-\\infty,0]\\cup(1,\\infty)', false),
  c('interval', 'x > 3', '(3, \\infty)', true),
  c('interval', 'x \\ge 3', '(3, \\infty)', false),
  c('interval', 'x \\geq 3', '[3, \\infty)', true),
  c('interval', '1 < x \\le 2', '(1, 2]', true),
  c('interval', 'x \\in [2, 5)', '[2,5)', true),
  c('interval', '[\\frac{1}{2}, 1)', '[0.5, 1)', true),
  c('interval', '(0, 1)', '(0, 2)', false),

  // --- matrices ----------------------------------------------------------------------------
  c('matrix', '\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}', '\\begin{bmatrix}1 & 2 \\\\ 3 & 4\\end{bmatrix}', true),
  c('matrix', '\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}', '\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}', false),
  c('matrix', '\\begin{pmatrix}1&3\\\\2&4\\end{pmatrix}', '\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}', false, 'transposed'),
  c('matrix', '\\begin{pmatrix}\\frac12&0\\\\0&1\\end{pmatrix}', '\\begin{pmatrix}0.5&0\\\\0&1\\end{pmatrix}', true),
  c('matrix', '\\begin{pmatrix}1\\\\2\\end{pmatrix}', '(1,2)', true, 'column vector vs tuple'),
  c('matrix', '\\begin{pmatrix}1&2\\end{pmatrix}', '\\begin{pmatrix}1\\\\2\\end{pmatrix}', false, 'row vs column'),

  // --- percentages (documented: the % sign is dropped) --------------------------------------
  c('percent', '50\\%', '50', true),
  c('percent', '50', '50\\%', true),
  c('percent', '50\\%', '0.5', false, 'choice: 50% means the number 50'),
  c('percent', '12.5\\%', '12.5', true),
  c('percent', '40 \\text{ percent}', '40', true),

  // --- lists ("a or b", comma lists of solutions: any order) ----------------------------------
  c('list', '3 \\text{ or } 4', '4, 3', true),
  c('list', '1, 2', '2, 1', true),
  c('list', '1, 2', '1, 3', false),
  c('list', '1, 2', '1', false),
  c('list', '\\pm 2', '2, -2', true),
  c('list', 'x = 1 \\text{ or } x = 2', '1, 2', true),
  c('list', 'x=1, x=-1', '\\pm 1', true),
  c('list', '\\frac{1 \\pm \\sqrt{5}}{2}', '\\frac{1-\\sqrt5}{2}, \\frac{1+\\sqrt5}{2}', true),
  c('list', '1 \\text{ and } 2', '1, 2', true),
  c('list', '2, 2, 3', '2, 3', false, 'a list keeps multiplicity'),

  // --- units, currency, degrees ------------------------------------------------------------
  c('units', '5 \\text{ cm}', '5', true),
  c('units', '5 cm', '5', true),
  c('units', '10 \\text{ meters}', '10', true),
  c('units', '\\$5', '5', true),
  c('units', '\\$1,000', '1000', true),
  c('units', '45^\\circ', '45', true),
  c('units', '90^{\\circ}', '90', true),
  c('units', '30^\\circ', '60', false),
  c('units', '5 \\text{ square units}', '5', true),
  c('units', '12 \\mbox{ inches}', '12', true),
  c('units', '3 \\text{ m}^2', '3', true),
  c('units', '7 \\text{ hours}', '7', true),
  c('units', '20 \\text{ dollars}', '20', true),
  c('units', '5 \\text{ cm}', '6', false),
  c('units', '4 \\text{ days}', '4', true),

  // --- LaTeX formatting ------------------------------------------------------------------
  c('format', '\\left(\\frac{1}{2}\\right)', '\\frac12', true),
  c('format', '\\displaystyle\\frac{3}{4}', '\\frac{3}{4}', true),
  c('format', '\\frac{3}{4}.', '\\frac{3}{4}', true, 'trailing period'),
  c('format', '$\\frac{3}{4}$', '\\frac{3}{4}', true),
  c('format', '\\frac {3} {4}', '\\frac{3}{4}', true),
  c('format', '\\text{5}', '5', true),
  c('format', '\\textbf{5}', '5', true),
  c('format', '\\mathrm{5}', '5', true),
  c('format', '2 \\times 3', '6', true),
  c('format', '2 \\cdot 3', '6', true),
  c('format', '2\\!\\cdot\\!3', '6', true),
  c('format', '−5', '-5', true, 'unicode minus'),
  c('format', '\\left(\\frac{3}{4}\\right)', '\\frac{4}{3}', false),
  c('format', '$5$.', '6', false),
  c('format', '\\text{5}', '\\text{6}', false),

  // --- complex numbers ---------------------------------------------------------------------
  c('complex', '1+2i', '2i+1', true),
  c('complex', 'i^2', '-1', true),
  c('complex', '1+2i', '1-2i', false),
  c('complex', '(1+i)^2', '2i', true),
  c('complex', '\\frac{1}{i}', '-i', true),

  // --- functions: trig, logs, factorials -----------------------------------------------------
  c('function', '\\sin\\frac{\\pi}{6}', '\\frac{1}{2}', true),
  c('function', '\\cos(\\pi)', '-1', true),
  c('function', '\\log_2 8', '3', true),
  c('function', '\\ln(e^2)', '2', true),
  c('function', 'e^{i\\pi}', '-1', true),
  c('function', '\\binom{5}{2}', '10', true),
  c('function', '5!', '120', true),
  c('function', '\\sin^2 x + \\cos^2 x', '1', true, 'identity with a free variable'),
  c('function', '\\arctan 1', '\\frac{\\pi}{4}', true),
  c('function', '\\tan^{-1} 1', '\\frac{\\pi}{4}', true),
  c('function', '\\log 100', '2', true),
  c('function', '\\sin x', '\\cos x', false),
  c('function', '2\\ln 3', '\\ln 9', true),
  c('function', '\\frac{\\sqrt{3}}{2}', '\\sin 60^\\circ', true, 'degrees inside a trig function'),
  c('function', '\\frac{1}{2}', '\\cos(60^{\\circ})', true),
  c('function', '\\frac{1}{2}', '\\sin 60^\\circ', false),

  // --- word answers ------------------------------------------------------------------------
  c('text', '\\text{Monday}', 'monday', true),
  c('text', '\\text{Monday}', '\\text{Tuesday}', false),
  c('text', '\\text{(B)}', 'B', true),
  c('text', '(C)', 'C', true),
  c('text', 'C', 'D', false),
  c('text', '\\text{East}', 'east', true),
  c('text', '\\text{no solution}', '\\text{No Solution}', true),
];
