# spectm: two commands on a fresh machine.
#   make test   install into .venv (if needed) and run the test suite
#   make book   install, execute every notebook with papermill under $(PROFILE), build the HTML
# Run `make help` for the rest.

PROFILE ?= quick
SOURCE  ?= twin
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.spectm-installed
TORCH   ?= torch==2.13.0

SOURCES   := $(sort $(wildcard book/notebooks/*.md))
EXECUTED  := $(patsubst book/notebooks/%.md,executed/%.ipynb,$(SOURCES))
PACKAGE   := $(shell find spectm -name '*.py' -o -name '*.csv' -o -name '*.json' -o -name '*.shp' -o -name '*.dbf' 2>/dev/null)
BOOKFILES := _config.yml _toc.yml $(wildcard book/*.md book/*.bib)
HTML      := _build/html/index.html

.PHONY: help install test book notebooks html check-site benchmarks clean clean-book FORCE

## help        : this list
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## install     : create .venv and install torch (CPU build) then spectm with its book and test extras
install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[book,test]'
	@touch $@

## test        : run the test suite (never touches the network)
test: $(STAMP)
	$(PY) -m pytest

## book        : execute every notebook (PROFILE=quick|paper, SOURCE=twin|real) and build the HTML in _build/html
book: $(HTML)

## check-site  : open every page of the built book in headless Chromium with the network off: math renders,
##               no script errors, nothing scrolls sideways at 1400 px, every figure numbered, captioned, with alt text
check-site: $(HTML)
	$(PY) -m spectm.site_check _build/html

## notebooks   : only execute the notebooks into executed/
notebooks: $(EXECUTED)

# Profile and source are part of every executed notebook's inputs: switching either re-executes them all.
executed/.profile: FORCE
	@mkdir -p executed
	@echo '$(PROFILE) $(SOURCE)' | cmp -s - $@ || echo '$(PROFILE) $(SOURCE)' > $@

# SOURCE=real passes `source` to papermill beside `profile` (data fetched by `spectm fetch`).
executed/%.ipynb: book/notebooks/%.md $(PACKAGE) $(STAMP) executed/.profile
	$(PY) -m spectm.book execute $< $@ --profile $(PROFILE) $(if $(filter-out twin,$(SOURCE)),--source $(SOURCE))

# Chapters that read numbers saved by earlier ones run after them: the rules are generated from what each
# chapter declares it produces and needs (spectm.results.CHAPTER_RESULTS); make rebuilds deps.mk first.
executed/deps.mk: spectm/results.py $(STAMP)
	@mkdir -p executed
	$(PY) -m spectm.results makedeps > $@.part && mv $@.part $@

ifneq ($(filter book notebooks $(HTML) $(EXECUTED),$(MAKECMDGOALS)),)
-include executed/deps.mk
endif

# The landing page's verdict box, filled from the results of this build (so it cannot go stale).
executed/verdicts.md: $(EXECUTED)
	$(PY) -m spectm.results verdicts $@ --profile $(PROFILE) --source $(SOURCE)

# The landing page's run-time table, from papermill's record in each executed notebook.
executed/timings.md: $(EXECUTED)
	$(PY) -m spectm.pages timings $@ $(EXECUTED)

# The paper's headline claims, from spectm/paper.py (the one place its numbers are typed).
executed/claims.md: spectm/paper.py spectm/pages.py $(STAMP)
	@mkdir -p executed
	$(PY) -m spectm.pages claims $@

$(HTML): $(EXECUTED) executed/verdicts.md executed/timings.md executed/claims.md $(BOOKFILES) $(STAMP)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@touch $@

## benchmarks  : run every speed and memory benchmark (ratios against reference runs; results in benchmarks/results)
benchmarks: $(STAMP)
	$(PY) -m benchmarks train
	$(PY) -m benchmarks data --size season
	$(PY) -m benchmarks grid

## clean-book  : remove executed notebooks and the HTML
clean-book:
	rm -rf executed _build

## clean       : remove everything make produced, the venv included
clean: clean-book
	rm -rf $(VENV)

FORCE:
