# The two commands of the README's quick start:
#   make synth   synthesize the built-in default example into cdktf.out/
#   make test    install everything the suite needs, run the lints, then the whole suite
#   make lint    ruff and mypy --strict (configured in pyproject.toml)
# Both install what they need themselves, so they work on a fresh machine.

PYTHON := .venv/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1

.PHONY: synth test lint install install-test

synth: install
	$(PYTHON) main.py

# The lints run first: a red gate fails fast, before 25 minutes of tests.
test: install-test lint
	$(PYTHON) -m pytest

lint: install
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy

install:
	scripts/install-python.sh

# The Debian 13 root (debootstrap: mostly waiting on the mirror and dpkg) builds while node and
# checkov install; both must succeed.
install-test: install
	scripts/install-system.sh
	scripts/build-debian-root.sh & root=$$!; \
	  scripts/install-node.sh && scripts/install-checkov.sh; tools=$$?; \
	  wait $$root; built=$$?; \
	  [ $$tools -eq 0 ] && [ $$built -eq 0 ]
