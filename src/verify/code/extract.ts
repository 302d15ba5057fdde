/**
 * Code extraction: the last fenced ```python block (also ```py / ```python3). If the response
 * has no python-tagged block, the last untagged ``` block is used. An unclosed final fence
 * (a truncated response) is ignored: only complete blocks count.
 *
 * Fences count only at the start of a line (after spaces or tabs), as in CommonMark: an
 * opening fence is ``` and an optional language tag with no further backtick on the line, the
 * block ends at the next line that starts with ```. One pass over the lines, so the time is linear in the response length
 * (a regex with a lazy body was quadratic on a line repeating ```: 96 KB took 5.6 s).
 */

export type CodeExtractionMethod = 'python-block' | 'plain-block' | 'none';

export interface CodeExtraction {
  code: string | null;
  method: CodeExtractionMethod;
}

const PYTHON_TAGS = new Set(['python', 'py', 'python3']);

/** Index just past the leading spaces/tabs of the line starting at `i`. */
function skipIndent(s: string, i: number): number {
  while (i < s.length && (s.charCodeAt(i) === 32 || s.charCodeAt(i) === 9)) i++;
  return i;
}

const isFence = (s: string, i: number) => s.startsWith('```', i);

export function extractCode(response: string): CodeExtraction {
  let python: string | null = null;
  let plain: string | null = null;
  let lang: string | null = null; // inside a block: its tag (lower case); outside: null
  let bodyStart = 0;
  for (let start = 0; start <= response.length; ) {
    let end = response.indexOf('\n', start);
    if (end < 0) end = response.length;
    const at = skipIndent(response, start);
    if (at < end && isFence(response, at)) {
      if (lang === null) {
        // Opening fence: the tag is the leading [A-Za-z0-9_+-] run after optional blanks.
        const tagStart = skipIndent(response, at + 3);
        let tagEnd = tagStart;
        while (tagEnd < end && /[A-Za-z0-9_+-]/.test(response[tagEnd]!)) tagEnd++;
        // CommonMark: the info string of a backtick fence holds no backtick (so ```x```
        // and a line of backticks open nothing). Scanned only up to the line's end.
        let tick = tagEnd;
        while (tick < end && response.charCodeAt(tick) !== 96) tick++;
        if (tick === end) {
          lang = response.slice(tagStart, tagEnd).toLowerCase();
          bodyStart = end + 1;
        }
      } else {
        // Closing fence: the body is everything between the fence lines (no final newline).
        const body = bodyStart >= start ? '' : response.slice(bodyStart, start - 1);
        if (PYTHON_TAGS.has(lang)) python = body;
        else if (lang === '') plain = body;
        lang = null;
      }
    }
    start = end + 1;
  }
  if (python !== null) return { code: python, method: 'python-block' };
  if (plain !== null) return { code: plain, method: 'plain-block' };
  return { code: null, method: 'none' };
}
