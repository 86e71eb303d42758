"""Fails with one line when the locks in locks/ no longer match what they were made from.

The locks are made from pyproject.toml's dependencies, extras and Python range, and from the
settings in scripts/lock.sh and locks/constraints.txt; their digest is kept in locks/inputs.sha256.
``--write`` (scripts/lock.sh runs it after a refresh) records the digest once the floor lock holds
each direct dependency at exactly its lower bound in pyproject.toml, so that the bounds are the
floors that ./test.sh tests.
"""

import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "locks" / "inputs.sha256"
REFRESH = "scripts/lock.sh"


def inputs_digest() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    inputs = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "lock.sh": (ROOT / REFRESH).read_text(),
        "constraints": (ROOT / "locks" / "constraints.txt").read_text(),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def release(version: str) -> str:
    """``2.41.0`` and ``2.41`` are one release."""
    return re.sub(r"(\.0)+$", "", version)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def untested_floors() -> list[str]:
    """Each direct dependency whose lower bound in pyproject.toml is not the version that the floor
    lock holds."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"].values()
    requirements = [*project["dependencies"], *(r for extra in extras for r in extra)]
    floor_lock = (ROOT / "locks" / "floor.txt").read_text()
    locked = {canonical(name): v for name, v in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", floor_lock, re.M)}
    problems = []
    for requirement in requirements:
        name, bound = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[.*\])?(?:>=|==)(\S+)", requirement).groups()
        tested = locked[canonical(name)].split("+")[0]  # torch's local version: +cpu
        if release(tested) != release(bound):
            problems.append(f"{name}: pyproject.toml says >={bound}, the floor lock resolved {tested}")
    return problems


def main() -> int:
    if sys.argv[1:] == ["--write"]:
        problems = untested_floors()
        if problems:
            print("lower bounds that no lock tests; raise them to what resolved:", *problems, sep="\n  ")
            return 1
        RECORD.write_text(inputs_digest() + "\n")
        return 0
    recorded = RECORD.read_text().strip() if RECORD.exists() else None
    if recorded != inputs_digest():
        print(
            f"locks/ is stale: pyproject.toml's dependencies or extras changed since the locks were made; run {REFRESH}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
