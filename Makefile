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

.PHONY: all setup system build venv venv-bench test demo bench bench-torch bench-peer-trl clean

all: build

# Installs missing Debian packages (once; dpkg says what is there).
system:
	@missing=""; for p in $(APT_NEED); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
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

test: setup
	PRIME_PYTHON=$(abspath $(PY)) node --test --test-concurrency=1 $$(find dist/test -name '*.test.js' | sort)

demo: setup
	node dist/src/prime/cli.js demo

# Benchmarks compare against PyTorch in the same run: Debian's python3-torch (same libtorch).
bench-deps: setup
	@dpkg -s python3-torch >/dev/null 2>&1 || { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q python3-torch; }

bench-torch: bench-deps
	node dist/bench/torch-step.js

# A whole RL step against TRL's GRPOTrainer / RLOOTrainer (trl in .venv) → bench/results/peer-trl.json.
bench-peer-trl: build venv-bench
	PRIME_PYTHON=$(abspath $(PY)) node dist/bench/peer-trl.js

clean:
	rm -rf dist native/build
