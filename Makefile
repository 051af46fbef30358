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
# Each data source has its own executed notebooks and HTML, so a real build never overwrites the twin's:
# twin -> executed/ and _build/html; real -> executed-real/ and _build/real/_build/html.
OUTDIR    := $(if $(filter twin,$(SOURCE)),executed,executed-$(SOURCE))
EXECUTED  := $(patsubst book/notebooks/%.md,$(OUTDIR)/%.ipynb,$(SOURCES))
PACKAGE   := $(shell find spectm -name '*.py' -o -name '*.csv' -o -name '*.json' -o -name '*.shp' -o -name '*.dbf' 2>/dev/null)
BOOKFILES := _config.yml _toc.yml $(wildcard book/*.md book/*.bib)
STAGE     := _build/$(SOURCE)
HTML      := $(if $(filter twin,$(SOURCE)),_build/html/index.html,$(STAGE)/_build/html/index.html)
# Seasons the real path fetches: every chapter reads 2024, the fair test leaves each of these out in turn.
REAL_YEARS ?= 2024 2025

.PHONY: help install test test-any-day book notebooks fetch fetch-twin fetch-real html check-site benchmarks clean clean-book FORCE

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

## test-any-day: the test suite at another date (ANY_DAY, by libfaketime) and in reverse order: no test may
##               depend on the date, the clock or the order of tests (about as long as make test)
ANY_DAY ?= 2031-02-28 23:59:00
test-any-day: $(STAMP)
	@command -v faketime >/dev/null || { echo "make test-any-day: needs faketime (Debian: apt-get install faketime)" >&2; exit 2; }
	faketime -f '@$(ANY_DAY)' env PYTHONPATH=tests/plugins $(PY) -m pytest -p reverse_order -p no:cacheprovider

## book        : execute every notebook (PROFILE=quick|paper, SOURCE=twin|real) and build the HTML;
##               twin: executed/ and _build/html; real: fetches what is missing, then executed-real/ and
##               _build/real/_build/html (the twin build is left alone)
book: $(HTML)

## check-site  : open every page of the built book in headless Chromium with the network off: math renders,
##               no script errors, nothing scrolls sideways at 1400 px, every figure numbered, captioned, with alt text
check-site: $(HTML)
	$(PY) -m spectm.site_check $(dir $(HTML))

## notebooks   : only execute the notebooks (into executed/, or executed-$(SOURCE)/)
notebooks: $(EXECUTED)

## fetch       : SOURCE=real: download what data/real lacks for REAL_YEARS (PACE needs Earthdata
##               credentials); with everything on disk it touches no network
fetch: fetch-$(SOURCE)

fetch-twin:

fetch-real: $(STAMP)
	@for year in $(REAL_YEARS); do for source in pace glerl gridmet; do \
	  $(PY) -m spectm.cli fetch $$source --year $$year --if-missing || exit 1; done; done

# Profile and source are part of every executed notebook's inputs: switching either re-executes them all.
$(OUTDIR)/.profile: FORCE
	@mkdir -p $(OUTDIR)
	@echo '$(PROFILE) $(SOURCE)' | cmp -s - $@ || echo '$(PROFILE) $(SOURCE)' > $@

# SOURCE=real passes `source` to papermill beside `profile`; fetching runs first (order only: a fetch that
# finds everything on disk re-executes nothing).
$(OUTDIR)/%.ipynb: book/notebooks/%.md $(PACKAGE) $(STAMP) $(OUTDIR)/.profile | fetch-$(SOURCE)
	$(PY) -m spectm.book execute $< $@ --profile $(PROFILE) $(if $(filter-out twin,$(SOURCE)),--source $(SOURCE))

# Chapters that read numbers saved by earlier ones run after them: the rules are generated from what each
# chapter declares it produces and needs (spectm.results.CHAPTER_RESULTS); make rebuilds deps.mk first.
$(OUTDIR)/deps.mk: spectm/results.py $(STAMP)
	@mkdir -p $(OUTDIR)
	$(PY) -m spectm.results makedeps --folder $(OUTDIR) > $@.part && mv $@.part $@

ifneq ($(filter book notebooks $(HTML) $(EXECUTED),$(MAKECMDGOALS)),)
-include $(OUTDIR)/deps.mk
endif

# The landing page's verdict box, filled from the results of this build (so it cannot go stale).
$(OUTDIR)/verdicts.md: $(EXECUTED)
	$(PY) -m spectm.results verdicts $@ --profile $(PROFILE) --source $(SOURCE)

# The landing page's run-time table, from papermill's record in each executed notebook.
$(OUTDIR)/timings.md: $(EXECUTED)
	$(PY) -m spectm.pages timings $@ $(EXECUTED)

# The paper's headline claims, from spectm/paper.py (the one place its numbers are typed).
$(OUTDIR)/claims.md: spectm/paper.py spectm/pages.py $(STAMP)
	@mkdir -p $(OUTDIR)
	$(PY) -m spectm.pages claims $@

# twin: rendered in place. Another source: rendered from a staged copy of the book whose executed/ holds
# that source's notebooks, so the landing page includes that source's verdicts, run times and claims.
$(HTML): $(EXECUTED) $(OUTDIR)/verdicts.md $(OUTDIR)/timings.md $(OUTDIR)/claims.md $(BOOKFILES) $(STAMP)
ifeq ($(SOURCE),twin)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
else
	rm -rf $(STAGE) && mkdir -p $(STAGE)
	cp -r _config.yml _toc.yml book $(STAGE)/ && cp -r $(OUTDIR) $(STAGE)/executed
	$(VENV)/bin/jupyter-book build $(STAGE) -W -n --keep-going
endif
	@touch $@

## benchmarks  : run every speed and memory benchmark (ratios against reference runs; results in benchmarks/results)
benchmarks: $(STAMP)
	$(PY) -m benchmarks train
	$(PY) -m benchmarks data --size season
	$(PY) -m benchmarks grid

## clean-book  : remove executed notebooks (every source's) and the HTML
clean-book:
	rm -rf executed executed-* _build

## clean       : remove everything make produced, the venv included
clean: clean-book
	rm -rf $(VENV)

FORCE:
