#!/usr/bin/env bash
# The test command: installs what it needs into .venv, lints, checks the import layers and the
# type hints, then runs the test suite, then the transformers tests again against the lowest
# transformers and accelerate the hf extra allows. `./test.sh -m "not slow"` is the fast loop.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh bench,ray,lightning,hf,jax,optuna,test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-logo
.venv/bin/mypy
.venv/bin/python -m pytest "$@"

# The floors of the hf extra, installed beside .venv's newest (first on the path when imported),
# with the tokenizers and huggingface_hub that this transformers requires: update those two
# together with the extra's floor.
lowest=.venv/hf-lowest
if [ ! -d "$lowest" ]; then
    floors=$(.venv/bin/python -c 'import tomllib
extra = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["hf"]
print(" ".join(requirement.replace(">=", "==") for requirement in extra))')
    # shellcheck disable=SC2086  # one word per requirement
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --target "$lowest" \
        $floors "tokenizers==0.21.4" "huggingface_hub==0.30.2"
fi
status=0
PYTHONPATH="$lowest" .venv/bin/python -m pytest -q -p no:cacheprovider -k transformers "$@" \
    tests/integrations/test_transformers.py tests/integrations/test_docs_examples.py || status=$?
# Exit code 5: the options given (e.g. -m "not slow") select none of these tests.
[ "$status" -eq 0 ] || [ "$status" -eq 5 ]
