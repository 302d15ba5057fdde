"""Grades cases with math-verify (PyPI `math-verify`) for bench/verify-diff.ts.

Reads JSON lines {"id", "response", "truth"} from the file given as argv[1] and writes JSON lines
{"id", "mv": true|false|null, "error": str|null} to stdout (null = math-verify raised or timed out).
The ground truth is parsed as `\\boxed{truth}` (as is, when it already holds a box); the response
is parsed with math-verify's default (lenient) extraction. Run with the project venv's python.
"""
import json
import sys

from math_verify import parse, verify


def grade(response: str, truth: str):
    gold_text = truth if "\\boxed" in truth else "\\boxed{" + truth + "}"
    gold = parse(gold_text, parsing_timeout=5)
    pred = parse(response, parsing_timeout=5)
    return bool(verify(gold, pred, timeout_seconds=5))


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            case = json.loads(line)
            try:
                out = {"id": case["id"], "mv": grade(case["response"], case["truth"]), "error": None}
            except Exception as e:  # noqa: BLE001 - any failure is reported per case
                out = {"id": case["id"], "mv": None, "error": f"{type(e).__name__}: {e}"[:200]}
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
