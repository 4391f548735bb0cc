# The README's two commands. Everything is in config/stack.sh so CI and people run the same steps.
.PHONY: run test lint

run:
	@bash config/stack.sh run

test:
	@bash config/stack.sh test $(PYTEST_ARGS)

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy .
