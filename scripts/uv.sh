#!/usr/bin/env bash
# Prints the path of the uv that installs the locks, installing the version locks/uv.txt pins
# into .tools/uv first when it is missing or another version.
set -euo pipefail
cd "$(dirname "$0")/.."
target=.tools/uv
wanted=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' locks/uv.txt)
if [ "$("$target/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$wanted" ]; then
    rm -rf "$target"
    # -qq: errors only, not the warnings about the extra indexes in pip's configuration that lack uv
    python3 -m pip install -qq --root-user-action=ignore --disable-pip-version-check --no-deps --require-hashes \
        --target "$target" -r locks/uv.txt
fi
echo "$PWD/$target/bin/uv"
