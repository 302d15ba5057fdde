/**
 * The Python side of call-based tests, run as `python3 -I -B -c HARNESS fn_name path` inside
 * the sandbox, with the solution at `path` and the JSON argument list on stdin.
 *
 * It runs the solution as a module named "solution" (so `if __name__ == "__main__":` blocks
 * stay inert), finds `fn_name` at top level or as a method of a `Solution` class (LeetCode
 * style, as in TACO), calls it, and writes the JSON of the result as the last line of the
 * *original* stdout. The solution's own prints go to /dev/null so they cannot corrupt the
 * result. The comparison happens in Node, never here: a result object with a rigged __eq__
 * gains nothing, since only its JSON serialization leaves the sandbox.
 */
export const CALL_HARNESS = String.raw`
import json, math, os, sys

def _jsonable(v, depth=0):
    if depth > 100:
        raise ValueError("result nested too deeply")
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x, depth + 1) for x in v]
    if isinstance(v, (set, frozenset)):
        items = [_jsonable(x, depth + 1) for x in v]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(v, dict):
        return {str(k): _jsonable(x, depth + 1) for k, x in v.items()}
    return repr(v)

def _main():
    result_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    fn_name = sys.argv[1]
    args = json.loads(sys.stdin.read())
    with open(sys.argv[2]) as f:
        source = f.read()
    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    exec(compile(source, "solution.py", "exec"), namespace)
    fn = namespace.get(fn_name)
    if fn is None and isinstance(namespace.get("Solution"), type):
        fn = getattr(namespace["Solution"](), fn_name, None)
    if not callable(fn):
        raise NameError("function %r not found" % fn_name)
    result = fn(*args)
    data = (json.dumps(_jsonable(result)) + "\n").encode()
    while data:
        data = data[os.write(result_fd, data):]

_main()
`;
