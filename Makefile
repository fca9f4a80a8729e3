# Thin wrappers around dev.py, which needs nothing but Python >= 3.11.
PYTHON ?= python3
SCALE ?=
CHAPTER ?= 01

.PHONY: setup book test run browse assignments benchmark

setup:
	$(PYTHON) dev.py setup

book:
	$(PYTHON) dev.py book $(if $(SCALE),--scale $(SCALE))

test:
	$(PYTHON) dev.py test

run:
	$(PYTHON) dev.py run $(CHAPTER) --scale $(or $(SCALE),cpu)

browse:
	$(PYTHON) dev.py browse

assignments:
	$(PYTHON) dev.py assignments

benchmark:
	.venv/bin/python benchmarks/grpo_engine.py
	.venv/bin/python benchmarks/seeds.py
	.venv/bin/python benchmarks/chapters.py
