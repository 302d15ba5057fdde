#!/usr/bin/env bash
# prime-ts on an NVIDIA GPU machine that has a Python `torch` (CUDA build) but no network and no
# Node. Two halves:
#
#   bash bench/device-check.sh --carry [DIR]      (here, after `make build`): writes what the GPU
#        machine needs beside the repository's tracked files into DIR (default .device-carry/,
#        git-ignored): this machine's node binary xz-compressed (node.xz), Node's C headers
#        (node-headers/, for node-gyp) and the runtime node_modules (node_modules.tar.xz, without
#        typescript). Carry DIR and dist/ with the working tree.
#   bash bench/device-check.sh --pack [OUT.tar]   the same plus the repository and dist/ in one tar.
#   bash bench/device-check.sh                    (there, in the tree): unpacks node and
#        node_modules, builds the addon against that torch's libtorch with CUDA (native/build-cuda;
#        PRIME_CUDA=1), runs the device tests with the device set to cuda (PRIME_TEST_DEVICE=cuda:
#        the GPU tests must run, not skip), then the whole suite, then a short PRIME training on
#        the GPU and the same on the CPU, printing tokens/s for sampling and training.
#
# Needs there: python3 with torch (CUDA), g++ (C++17/C++20), make, xz. Environment: PYTHON (default
# python3), DEVICE (default cuda), STEPS (default 3), CARRY (default .device-carry), LOG (a folder
# for the logs, default .device), SUITE_TIMEOUT (seconds for the whole suite, default 240),
# SUITE_JOBS (test files at a time, default 8), SUITE_THREADS (OMP_NUM_THREADS, libtorch's threads
# per test process, default 2: 8 files × all cores each oversubscribes the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

carry() {
  local dir=$1
  [ -f dist/.built ] && [ -d node_modules ] || { echo "run make build first" >&2; exit 1; }
  rm -rf "$dir" && mkdir -p "$dir/node-headers/include"
  xz -T0 -6 -c "$(command -v node)" > "$dir/node.xz"
  local nodedir
  nodedir=$(node -p "require('path').resolve(process.execPath, '../..')")
  # the headers node-gyp and node-addon-api read (not OpenSSL's 53 MB)
  tar cf - -C "$nodedir/include" --exclude=node/openssl node | tar xf - -C "$dir/node-headers/include"
  tar cf - --exclude=node_modules/typescript --exclude=node_modules/@types --exclude=node_modules/.bin/tsc \
    --exclude=node_modules/.bin/tsserver node_modules | xz -T0 -6 > "$dir/node_modules.tar.xz"
  # Gloo's headers (Debian's libgloo-dev; PyPI's torch ships none) for the addon's c10d Gloo backend
  [ -d /usr/include/gloo ] && mkdir -p "$dir/include" && cp -r /usr/include/gloo "$dir/include/"
  # pure-Python wheels the test references need beyond what a CUDA image usually has (gguf)
  local py=${PYTHON:-.venv/bin/python}
  [ -x "$py" ] && "$py" -m pip download -q --no-deps --only-binary=:all: -d "$dir/wheels" gguf==0.19.0 \
    || echo "carry: no gguf wheel (the GGUF reference tests will fail there)"
  echo "carry: $(du -sh "$dir" | cut -f1) in $dir"
}

if [ "${1:-}" = "--carry" ]; then carry "${2:-.device-carry}"; exit 0; fi
if [ "${1:-}" = "--pack" ]; then
  out=${2:-prime-ts-device.tar}
  stage=$(mktemp -d)
  carry "$stage/.device-carry"
  tar cf "$out" --exclude=native/build --exclude='native/build-*' --exclude=.venv --exclude=runs --exclude=.git \
    --exclude=node_modules --exclude=.device-carry -C "$ROOT" . -C "$stage" .device-carry
  rm -rf "$stage"
  echo "packed $(du -h "$out" | cut -f1) into $out; on the GPU machine: mkdir p && tar xf $(basename "$out") -C p && bash p/bench/device-check.sh"
  exit 0
fi

PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-3}
CARRY=${CARRY:-.device-carry}
LOG=${LOG:-$ROOT/.device}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-240}
SUITE_JOBS=${SUITE_JOBS:-8}
mkdir -p "$LOG" .device/bin
# DEVICE=cpu: a dry run of the whole script on a machine without a GPU (CPU build, CPU tests)
CUDA=1; [ "$DEVICE" = cpu ] && CUDA=0
[ $CUDA = 0 ] || nvidia-smi -L || { echo "device-check: nvidia-smi found no GPU" >&2; exit 1; }
t_start=$(date +%s)
stamp() { echo "[device-check +$(( $(date +%s) - t_start )) s] $*"; }

# 1. node and the runtime node_modules from the carried files
if [ ! -x .device/bin/node ]; then
  [ -f "$CARRY/node.xz" ] || { echo "device-check: $CARRY/node.xz missing (make it here with: bash bench/device-check.sh --carry)" >&2; exit 1; }
  xz -dc "$CARRY/node.xz" > .device/bin/node && chmod +x .device/bin/node
fi
export PATH="$ROOT/.device/bin:$PATH"
[ -d node_modules/node-gyp ] || xz -dc "$CARRY/node_modules.tar.xz" | tar xf -
[ -f dist/.built ] || { echo "device-check: dist/ missing (carry the built dist/)" >&2; exit 1; }
stamp "node $(node --version)"
[ -d "$CARRY/include" ] && export CPLUS_INCLUDE_PATH="$ROOT/$CARRY/include${CPLUS_INCLUDE_PATH:+:$CPLUS_INCLUDE_PATH}"
if ls "$CARRY"/wheels/*.whl >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target "$ROOT/.device/site" "$CARRY"/wheels/*.whl \
    && export PYTHONPATH="$ROOT/.device/site${PYTHONPATH:+:$PYTHONPATH}"
fi

# 2. the addon against the installed torch's libtorch, with CUDA
TORCH_DIR=$("$PYTHON" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
"$PYTHON" -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda, "devices", torch.cuda.device_count(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
NODEDIR=$ROOT/$CARRY/node-headers
[ -f "$NODEDIR/include/node/node_api.h" ] || NODEDIR=$(node -p "require('path').resolve(process.execPath, '../..')")
BUILD=native/build-cuda
mkdir -p $BUILD
sed -e 's#"src/#"../src/#g' -e 's#node libtorch.cjs#node ../libtorch.cjs#g' native/binding.gyp > $BUILD/binding.gyp
t0=$(date +%s)
(cd $BUILD && LIBTORCH=$TORCH_DIR PRIME_CUDA=$CUDA ../../node_modules/.bin/node-gyp rebuild -j "$(nproc)" --nodedir="$NODEDIR") > "$LOG/build.log" 2>&1 \
  || { tail -40 "$LOG/build.log"; echo "device-check: the addon did not build" >&2; exit 1; }
stamp "addon built in $(( $(date +%s) - t0 )) s"
export PRIME_NATIVE=$ROOT/$BUILD/build/Release/prime_native.node
node -e "import('./dist/src/torch/index.js').then((t) => { const v = t.version(); console.log('addon:', JSON.stringify(v), 'cuda available:', t.cudaAvailable()); if ($CUDA && (!v.cuda || !t.cudaAvailable())) process.exit(1); })"

# 3. the device tests with the device set to cuda: they must run, not skip
[ $CUDA = 0 ] || export PRIME_TEST_DEVICE=$DEVICE
export PRIME_PYTHON=$(command -v "$PYTHON")
node --test --test-concurrency=1 dist/test/lm/device.test.js dist/test/prime/trainer-device.test.js dist/test/torch/creation.test.js \
  dist/test/prime/parallel-device.test.js > "$LOG/device-tests.log" 2>&1 || true
# two data-parallel ranks sharing the GPU (Gloo through host memory) against one process
node --test --test-name-pattern='one GPU' dist/test/prime/distributed.test.js >> "$LOG/device-tests.log" 2>&1 || true
grep -E '^# (tests|pass|fail|skipped)|^not ok|max \|diff\||cuda vs cpu|on CUDA tensors|GPU, after' "$LOG/device-tests.log" || true
stamp "device tests done"

# 4. throughput on the GPU: a short PRIME training (then the same on the CPU), and prime-ts/lm
#    beside transformers at the Qwen2.5-0.5B shape
PRIME_DEVICE=$DEVICE node dist/bench/device-train.js "$STEPS" 256 4 2>&1 | tee "$LOG/train-$DEVICE.log" || echo "device-check: training on $DEVICE failed"
[ $CUDA = 0 ] || PRIME_DEVICE=cpu node dist/bench/device-train.js "$STEPS" 256 4 2>&1 | tee "$LOG/train-cpu.log" || echo "device-check: training on cpu failed"
stamp "training runs done"
# bf16 mixed precision, exact bf16 resume and shared prompts in the trainer on the device (OK / FAIL per check)
PRIME_DEVICE=$DEVICE node dist/bench/device-precision.js 2>&1 | tee "$LOG/precision.log" || echo "device-check: the precision check failed (see above)"
stamp "precision check done"
PRIME_DEVICE=$DEVICE PYTHON=$PYTHON node dist/bench/device-lm.js ${LM_LAYERS:-24} 3 2>&1 | tee "$LOG/lm.log" || true
stamp "lm bench done"

# 5. the whole suite with the device set to cuda (bounded: SUITE_TIMEOUT seconds)
OMP_NUM_THREADS=${SUITE_THREADS:-2} timeout "$SUITE_TIMEOUT" node --test --test-concurrency="$SUITE_JOBS" $(find dist/test -name '*.test.js' | sort) > "$LOG/suite.log" 2>&1 || echo "device-check: suite exit $?"
grep -E '^# (tests|pass|fail|skipped|cancelled)|^not ok' "$LOG/suite.log" || true
grep -q '^# fail 0' "$LOG/suite.log" && echo "device-check: test suite passed" || echo "device-check: test suite had failures (see $LOG/suite.log)"
stamp "done"
