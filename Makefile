# Developer tasks. The README's two commands need none of these.
PY ?= .venv/bin/python

.PHONY: install test test-fast lint train samples scenes bench bench-accuracy bench-speed figures

install:
	python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'

test:
	$(PY) -m pytest

# The tests that take a few seconds at most (the slow ones are marked slow).
test-fast:
	$(PY) -m pytest -m "not slow"

# The linter and the type checker, as CI runs them.
lint:
	.venv/bin/ruff check railcount tests
	.venv/bin/mypy

# Retrain the detector's track and car models on simulated scenes (rendered once
# into build/train, then reused); writes railcount/data/*.npz.
train:
	$(PY) -m railcount.training

# Regenerate the bundled SIMULATED sample tiles.
samples:
	$(PY) -m railcount -v simulate --sample-tiles sample_tiles

# Regenerate the deterministic benchmark scene set (git-ignored).
scenes:
	$(PY) benchmarks/make_scenes.py --out benchmarks/scenes

bench: bench-accuracy bench-speed

bench-accuracy:
	$(PY) benchmarks/accuracy.py

bench-speed:
	$(PY) benchmarks/speed.py

# The simulated-beside-real figure in docs/ (needs ../shared/real).
figures:
	$(PY) benchmarks/figure_sim_vs_real.py
