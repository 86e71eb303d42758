"""UBA's phi read from a sweep's specs: cosine is UBA with phi = 2 exactly, and ``uba(phi=auto)``
chooses its own."""

from __future__ import annotations

from budgetlr.bench.methods import method
from budgetlr.schedules import FAMILIES, keys_of
from budgetlr.study.analysis import Cell

#: UBA's phi, and the keys besides it: cosine is UBA with phi = 2 exactly, uba(phi=auto) is "auto".
Phi = tuple[tuple[tuple[str, object], ...], float | str]


def uba_phi(schedule: str) -> Phi | None:
    """``(the other keys, phi)`` of a UBA spec, cosine (phi = 2) or ``uba(phi=auto)``; else None."""
    resolved = method(schedule)
    keys = {k: v for k, v in resolved.base.to_dict().items() if k != "name"}
    phi: float | str
    if resolved.kind == "auto":
        phi = "auto"
    elif resolved.kind == "schedule" and resolved.base.name == "cosine":
        phi = 2.0
    elif resolved.kind == "schedule" and resolved.base.name == "uba":
        phi = float(keys.pop("phi", keys_of(FAMILIES["uba"])["phi"]))
    else:
        return None
    return tuple(sorted(keys.items())), phi


def phi_groups(cells: list[Cell]) -> tuple[str, dict[str, float]] | None:
    """``uba(phi=auto, ...)`` and the fixed-phi schedules with the same other keys (cosine as
    phi = 2), as ``(auto, {schedule: phi})``; None without an auto schedule."""
    phis = {c.schedule: p for c in cells if (p := uba_phi(c.schedule)) is not None}
    autos = sorted(s for s, (_, phi) in phis.items() if phi == "auto")
    if not autos:
        return None
    keys = phis[autos[0]][0]
    fixed = {s: float(phi) for s, (k, phi) in phis.items() if k == keys and isinstance(phi, float)}
    return autos[0], fixed
