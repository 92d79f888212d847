# The two commands a newcomer runs: `make demo` and `make test`. Both set everything up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-yardfleet
OUT ?= out

.PHONY: install demo console test lint unit bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The main job on the embedded default terminal: an 8-hour simulated shift at Hai Phong
# (KPI table, report.json, pictures, the dispatcher's journal), after drawing the yard.
demo: $(STAMP)
	mkdir -p $(OUT)
	$(BIN)/yardfleet map export --terminal haiphong --out $(OUT)/haiphong.geojson
	$(BIN)/yardfleet map validate $(OUT)/haiphong.geojson
	$(BIN)/yardfleet map show $(OUT)/haiphong.geojson --out $(OUT)/haiphong.png
	$(BIN)/yardfleet map show $(OUT)/haiphong.geojson --around X0069 --out $(OUT)/junction.png
	$(BIN)/yardfleet sim run --out $(OUT)/shift
	@echo "demo: see $(OUT)/shift/report.json and the pictures in $(OUT)/shift/ (crane_rate.png, truck_states.png, traffic.png)"
	@echo "demo: to watch a shift live in the fleet console, run 'make console' and open http://127.0.0.1:8080/"

# A simulated shift (trucks as onboard agents) at CONSOLE_SPEED × real time with the fleet
# console on it; sign in as CONSOLE_USER with CONSOLE_PASSWORD (a demo operator, loopback).
CONSOLE_AT ?= 127.0.0.1:8080
CONSOLE_SPEED ?= 4
CONSOLE_USER ?= dispatcher
CONSOLE_PASSWORD ?= yardfleet-demo
console: $(STAMP)
	mkdir -p $(OUT)/console
	$(BIN)/yardfleet operators add $(CONSOLE_USER) --role dispatcher --file $(OUT)/console/operators.json --password $(CONSOLE_PASSWORD)
	@echo "console: sign in as $(CONSOLE_USER) / $(CONSOLE_PASSWORD)"
	$(BIN)/yardfleet sim console --console $(CONSOLE_AT) --speed $(CONSOLE_SPEED) --operators $(OUT)/console/operators.json --out $(OUT)/console

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Unit tests, plus every benchmark at reduced size with timing off (they still assert results).
unit: $(STAMP)
	YARDFLEET_BENCH_SCALE=0.1 $(BIN)/pytest -q --benchmark-disable

test: lint unit

# Benchmarks at full size, with their tables.
bench: $(STAMP)
	$(BIN)/pytest tests/bench -q --benchmark-only \
		--benchmark-columns=min,median,mean,max,rounds --benchmark-sort=name

# The documentation (docs/*.md) as a site in site/; strict: a broken link or anchor fails.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) $(OUT) site .pytest_cache .mypy_cache .ruff_cache .benchmarks
