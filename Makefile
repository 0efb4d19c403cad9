.PHONY: setup test run chat bench
setup:
	bash scripts/setup.sh
# Sets up everything and runs every test (lint, types, unit, fuzz, integration with node clients).
test:
	bash scripts/test.sh
# The main job: the chat example on http://127.0.0.1:5000 with the official JS client.
run chat: setup
	.venv/bin/python examples/chat/app.py
bench: setup
	.venv/bin/python -m benchmarks --compare
