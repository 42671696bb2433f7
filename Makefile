# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# torch is named on every pip call: a floating torch pulls a multi-GB CUDA build.
PIP    := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt torch==2.13.0
STAMP  := $(VENV)/.installed
OUT    ?= demo_out
PYTEST_ARGS ?=

.PHONY: install demo test bench clean-venv
install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt tools/install_system_deps.sh
	@bash tools/install_system_deps.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (torch first, then the package with every backend, then TVM)"
	$(PIP)
	$(PIP) -e '.[all,dev]'
	@# TVM needs a newer typing-extensions than litert-torch's resolve allows: second step.
	$(PY) -m pip install --disable-pip-version-check -q torch==2.13.0 apache-tvm==0.27.0.post1 apache-tvm-ffi==0.1.14.post1 xgboost-cpu==3.2.0
	@touch $@

demo: install
	$(VENV)/bin/ofa-deploy demo --out $(OUT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) tools/bench_search.py
	$(PY) tools/bench_backends.py

clean-venv:
	rm -rf $(VENV)
