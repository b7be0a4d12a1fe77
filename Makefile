# The two commands of the README's quick start:
#   make synth   synthesize the built-in default example into cdktf.out/
#   make test    install everything the suite needs, then run the whole suite
# Both install what they need themselves, so they work on a fresh machine.

PYTHON := .venv/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1

.PHONY: synth test install install-test

synth: install
	$(PYTHON) main.py

test: install-test
	$(PYTHON) -m pytest

install:
	scripts/install-python.sh

install-test: install
	scripts/install-system.sh
	scripts/install-node.sh
	scripts/install-checkov.sh
