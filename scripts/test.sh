#!/usr/bin/env bash
# The whole check: lint, types, layering contracts, then the test suite. Called by `./smsh test`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${SMSH_VENV:-$ROOT/.venv}/bin"
export PATH="$BIN:$PATH"
echo "== ruff"; ruff check .
echo "== mypy (strict)"; mypy
echo "== import-linter"; lint-imports
echo "== pytest"
exec pytest "$@"
