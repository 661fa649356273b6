"""An attacker of suppressed counts (A6), for the tests.

Its unknowns are units: how many there are of each kind (a finest cell of counts that add up, or
persons of a district holding a given set of policies). Each cell counted is the sum of the units
it holds. It knows every count shown, that a listed suppressed group holds at least one unit, and
that a group never listed holds none. For each suppressed cell it solves, over non-negative whole
numbers of units, for the least and the most the cell can hold (integer programs, HiGHS through
scipy). The cell is pinned when they are equal.

The solver works in floating point: a cell is taken as not pinned only when fillings it returns
check out exactly, in integers, against everything known, and differ in that cell (from each
other, or from the true count when the test gives it: one filling then clears every cell it
differs in).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

CEILING = 10**6  # units of one kind at most: a bound for solving, far above any count here


def pinned(
    cells_of: Mapping[Hashable, Iterable[Hashable]],
    shown: Mapping[Hashable, int],
    listed: Iterable[Hashable],
    targets: Iterable[Hashable],
    truth: Mapping[Hashable, int] | None = None,
) -> dict[Hashable, tuple]:
    """The targets the attacker pins, each with the least and most found (equal, or unchecked).

    ``cells_of`` gives, for each kind of unit, the cells it is counted in; a kind with a cell
    neither ``shown`` nor ``listed`` (a group with no one in it) is left out: there are none of it.
    """
    listed = set(listed)
    known = set(shown) | listed
    kinds = [kind for kind, cells in cells_of.items() if set(cells) <= known]
    index = {kind: i for i, kind in enumerate(kinds)}
    holding: dict[Hashable, list[int]] = {}
    for kind in kinds:
        for cell in set(cells_of[kind]):
            holding.setdefault(cell, []).append(index[kind])

    def row(cell: Hashable) -> np.ndarray:
        vector = np.zeros(len(kinds))
        vector[holding.get(cell, [])] = 1
        return vector

    rows, low, high = [], [], []
    for cell, count in shown.items():
        rows.append(row(cell))
        low.append(count)
        high.append(count)
    for cell in listed:
        rows.append(row(cell))
        low.append(1)
        high.append(np.inf)
    constraint = LinearConstraint(np.array(rows).reshape(len(rows), len(kinds)), low, high)

    def exact(units: np.ndarray) -> bool:
        value = {cell: int(sum(units[i] for i in members)) for cell, members in holding.items()}
        return all(value.get(cell, 0) == count for cell, count in shown.items()) and all(
            value.get(cell, 0) >= 1 for cell in listed
        )

    def held(units: np.ndarray, cell: Hashable) -> int:
        return int(sum(units[i] for i in holding.get(cell, [])))

    targets = list(targets)
    cleared: set[Hashable] = set()
    found = {}
    for target in targets:
        if target in cleared:
            continue
        extremes = []
        for sense in (1, -1):
            result = milp(
                c=sense * row(target),
                constraints=constraint,
                integrality=np.ones(len(kinds)),
                bounds=Bounds(0, CEILING),
            )
            units = np.round(result.x).astype(int) if result.status == 0 else None
            if units is None or not exact(units):
                extremes.append(None)
                continue
            extremes.append(held(units, target))
            if truth is not None:
                cleared |= {cell for cell in targets if held(units, cell) != truth[cell]}
                if target in cleared:
                    break
        if target not in cleared and (None in extremes or extremes[0] == extremes[1]):
            found[target] = tuple(extremes)
    return found
