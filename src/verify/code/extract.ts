/**
 * Code extraction: the last fenced ```python block (also ```py / ```python3). If the response
 * has no python-tagged block, the last untagged ``` block is used. An unclosed final fence
 * (a truncated response) is ignored: only complete blocks count.
 */

export type CodeExtractionMethod = 'python-block' | 'plain-block' | 'none';

export interface CodeExtraction {
  code: string | null;
  method: CodeExtractionMethod;
}

// A fence line: ``` + optional language tag, then the body up to the next fence line.
const BLOCK = /```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n([\s\S]*?)\n?[ \t]*```/g;

export function extractCode(response: string): CodeExtraction {
  let python: string | null = null;
  let plain: string | null = null;
  BLOCK.lastIndex = 0;
  for (let m = BLOCK.exec(response); m !== null; m = BLOCK.exec(response)) {
    const lang = m[1]!.toLowerCase();
    if (lang === 'python' || lang === 'py' || lang === 'python3') python = m[2]!;
    else if (lang === '') plain = m[2]!;
  }
  if (python !== null) return { code: python, method: 'python-block' };
  if (plain !== null) return { code: plain, method: 'plain-block' };
  return { code: null, method: 'none' };
}
