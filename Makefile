# The two README commands. Everything runs from the project's own .venv, made from python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Reinstall only when the package metadata changes.
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test install clean bench system-packages

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[course,test,viz]"
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

# Command 1: run the course pipeline on the bundled modules: export, release every module (student
# kits too), build the sample submissions from the current release and grade them.
demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/tito export
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/tito release
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python examples/sample_submissions.py --grade

# System packages the tests need: Debian's PostgreSQL server (the --db-url test starts its own
# throw-away cluster), chromium (the JupyterLab browser test) and graphviz (`dot`, to render
# Variable.graph()). Installed only when missing, so running this again costs nothing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-packages:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "installing Debian's postgresql package"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends postgresql; }
	@test -x /usr/bin/chromium && command -v dot >/dev/null 2>&1 || { \
		echo "installing Debian's chromium and graphviz packages"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium graphviz; }

# Command 2: lint, then the whole test suite. pytest exits 5 when it ran no test: that fails too.
test: $(STAMP) system-packages
	$(BIN)/ruff check .
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

# Not one of the two README commands: installs the `bench` extra (PyTorch, CPU) and runs the benchmarks.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[bench]"
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/tensor_overhead.py
	$(BIN)/python bench/optimizers_vs_torch.py

clean:
	rm -rf $(VENV) course build
