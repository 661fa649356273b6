"""Which groups of a table of counts are suppressed so that none can be worked out from the others (A6).

A table is a cube: every grouping of its dimensions, each cell a tuple with one value a dimension
and None where it is not grouped by (all of it); cells with no one in them are not in it. Primary
suppression hides every cell under the threshold. Secondary suppression is the hypercube method:
for each hidden cell, choose a 2^p hypercube of finest cells (a pair of values in each of p of the
dimensions the cell is grouped by, one value in each other dimension) and move one unit around it,
+ and - alternating. A cell grouped by all p dimensions that holds a corner changes by one; every
other cell keeps its sum, since along a dimension it is not grouped by, the + and - cancel. All
the cells that change are suppressed too.

Each suppressed cell thus has a witness: a second table, made by that move, that agrees with every
count shown, keeps every listed group non-empty and every unlisted one empty, and differs in that
cell. An attacker holding every grouping, with and without filters (a filter picks cells of the
same cube), and solving every equation they give, cannot tell the two tables apart, so cannot pin
the cell to one value. Where counts are too sparse for any hypercube, the witness moves a unit into
the hidden cell from a finest cell outside it (the cells holding one of the two change), or adds
one inside it (every cell holding it changes, the grand total too).

What a unit is depends on what is counted:

- ``Additive``: counts that add up (transactions), one unit in one finest cell. The proof is exact.
- ``Persons``: persons, each counted once a group, in a layer for all of them and a layer for each
  insurance type (a person with several types is in several layers); they partition by district.
  A unit is a person moved with all their policies (their types, in every layer of those types and
  in the persons' layer), or one policy added to or taken from a person who stays (one type's
  layer only). Whether such a person can be there is judged from the counts alone: at a finest
  cell, persons whose policies all sit in that cell can be given any types the counts allow, and
  persons with policies in several cells (another channel or status the same month) are at most
  the district's persons counted twice, so every condition is checked with that many taken away.

Choosing the cheapest hypercubes is hard in general: cell by cell (coarsest first), this takes the
hypercube hiding the least not hidden yet among a few likely partners (all, if none fits), so it
hides more than an optimum would. It is deterministic: a cube always gets the same suppression,
whichever question or path asks.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

Cell = tuple[Hashable | None, ...]

# Partners and fixed values tried first in each dimension; all of them only when none of those fits.
LIKELY = 3
# Fitting witnesses compared at most, for one cell and one number of paired dimensions: any of them
# protects the cell, the cheapest of more would only hide a little less.
COMPARED = 64


@dataclass(frozen=True, slots=True)
class Witness:
    """A unit more (sign +1) or less (-1) at each of ``corners``, finest cells (of the persons'
    layer, when there are layers), which changes exactly ``changes`` (cell: by how much)."""

    corners: tuple[Cell, ...]
    signs: tuple[int, ...]
    changes: Mapping[Cell, int]
    moved: str  # what a unit is: "units", "persons of types ..." or "policies of type ..."


@dataclass(frozen=True, slots=True)
class Disclosure:
    suppressed: frozenset[Cell]
    witnesses: Mapping[Cell, Witness] = field(default_factory=dict)  # one for every suppressed cell


class Additive:
    """Counts that add up: each unit is in one finest cell and in every cell containing it."""

    layer = None

    def moves(self, cube: _Cube, corners: Sequence[Cell], signs: Sequence[int], paired: tuple | None, target: Cell):
        # A corner holds a unit already (or gaining one would list a new group), and holds two when
        # losing one (or a listed group would become empty).
        if all(cube.count(corner) >= (2 if sign < 0 else 1) for corner, sign in zip(corners, signs)):
            yield "units", _spread(corners, signs, (None,), None, paired)


class Persons:
    """Persons counted once a group: the cell's entry ``layer`` is None for all persons or an
    insurance type; persons partition by the entry ``partition`` (the district)."""

    def __init__(self, layer: int, partition: int) -> None:
        self.layer, self.partition = layer, partition

    def moves(self, cube: _Cube, corners: Sequence[Cell], signs: Sequence[int], paired: tuple | None, target: Cell):
        types = cube.layers
        wanted = target[self.layer]
        # One policy of the target's type added or taken away: that type's layer only.
        if wanted is not None and all(
            self._policy_fits(cube, corner, wanted, sign) for corner, sign in zip(corners, signs)
        ):
            yield f"policies of type {wanted}", _spread(corners, signs, (wanted,), self.layer, paired)
        # Whole persons of one set of types: the persons' layer and those types' layers.
        losing = [corner for corner, sign in zip(corners, signs) if sign < 0]
        held_by_all = set()
        for corner in losing:
            persons, slack = cube.persons(corner, self), cube.slack(corner, self)
            held_by_all |= {t for t in types if cube.policies(corner, t, self) > persons - slack - 1}
        for kinds in _type_sets(held_by_all, wanted, types):
            if all(self._person_fits(cube, corner, kinds, sign) for corner, sign in zip(corners, signs)):
                moved = f"persons of types {', '.join(map(str, sorted(kinds)))}"
                yield moved, _spread(corners, signs, (None, *sorted(kinds)), self.layer, paired)

    def _person_fits(self, cube: _Cube, point: Cell, kinds: frozenset, sign: int) -> bool:
        least = 2 if sign < 0 else 1  # listed groups stay listed, unlisted ones stay empty
        if cube.persons(point, self) < least or any(cube.policies(point, t, self) < least for t in kinds):
            return False
        if sign > 0:
            return True  # a person added with policies in this cell only
        # Someone whose policies all sit here can be given exactly these types: the others still
        # hold every policy counted, each at most once a type and at least one each.
        persons, slack = cube.persons(point, self), cube.slack(point, self)
        present = [cube.policies(point, t, self) for t in cube.layers]
        held = sum(present)
        spread = max(0, sum(1 for p in present if p) - 1)
        return (
            persons - slack >= 1
            and all(cube.policies(point, t, self) - slack >= 1 for t in kinds)
            and all(cube.policies(point, t, self) <= persons - slack - 1 for t in cube.layers if t not in kinds)
            and held - len(kinds) - persons + 1 >= spread * slack
        )

    def _policy_fits(self, cube: _Cube, point: Cell, kind: Hashable, sign: int) -> bool:
        persons, slack = cube.persons(point, self), cube.slack(point, self)
        policies = cube.policies(point, kind, self)
        if sign > 0:  # someone here without a policy of that type takes one
            return policies >= 1 and persons - policies - slack >= 1
        # someone here with that type and another gives it up, and is still counted here
        present = [cube.policies(point, t, self) for t in cube.layers]
        spread = max(0, sum(1 for p in present if p) - 1)
        return (
            policies >= 2
            and policies - slack >= 1
            and any(cube.policies(point, t, self) - slack >= 1 for t in cube.layers if t != kind)
            and sum(present) - persons - 1 >= spread * slack
        )


def margins(finest: Mapping[Cell, int]) -> dict[Cell, int]:
    """Every cell of every grouping of counts that add up, from the finest cells."""
    cube: dict[Cell, int] = {}
    for cell, count in finest.items():
        if count:
            for coarser in _coarser(cell):
                cube[coarser] = cube.get(coarser, 0) + count
    return cube


def protect(
    counts: Mapping[Cell, int],
    threshold: int,
    *,
    units: Additive | Persons | None = None,
) -> Disclosure:
    """The cells to suppress in a cube of ``counts`` (units ``Additive`` unless given): those under
    ``threshold``, and enough others that each of them has a witness."""
    return _Protection(_Cube(counts, units or Additive()), threshold).run()


class _Cube:
    def __init__(self, counts: Mapping[Cell, int], units: Additive | Persons) -> None:
        self.counts = {cell: count for cell, count in counts.items() if count > 0}
        self.units = units
        self.width = len(next(iter(self.counts))) if self.counts else 0
        layer = units.layer
        # The dimensions hypercubes pair: all but the layer. Points are finest cells of those.
        self.space = [d for d in range(self.width) if d != layer]
        finest = [cell for cell in self.counts if all(cell[d] is not None for d in self.space)]
        self.values = {d: sorted({cell[d] for cell in finest}) for d in self.space}
        self.points = sorted(
            {_in_layer(cell, layer, None) if layer is not None else cell for cell in finest}, key=_order
        )
        self.layers = sorted({cell[layer] for cell in finest if cell[layer] is not None}) if layer is not None else []
        self._slack: dict[Hashable, int] = {}

    def count(self, cell: Cell) -> int:
        return self.counts.get(cell, 0)

    def persons(self, point: Cell, units: Persons) -> int:
        return self.counts.get(_in_layer(point, units.layer, None), 0)

    def policies(self, point: Cell, kind: Hashable, units: Persons) -> int:
        return self.counts.get(_in_layer(point, units.layer, kind), 0)

    def slack(self, point: Cell, units: Persons) -> int:
        """At most how many of the district's persons have policies in more than one finest cell:
        each such person is counted once more in the finest cells than in the district."""
        district = point[units.partition]
        if district not in self._slack:
            total = sum(
                count
                for cell, count in self.counts.items()
                if cell[units.layer] is None
                and cell[units.partition] == district
                and all(cell[d] is not None for d in self.space)
            )
            whole = tuple(district if d == units.partition else None for d in range(self.width))
            self._slack[district] = total - self.counts.get(whole, 0)
        return self._slack[district]


class _Protection:
    def __init__(self, cube: _Cube, threshold: int) -> None:
        self.cube = cube
        self.threshold = threshold
        self.suppressed: set[Cell] = set()
        self.witnesses: dict[Cell, Witness] = {}

    def run(self) -> Disclosure:
        primary = {cell for cell, count in self.cube.counts.items() if count < self.threshold}
        self.suppressed |= primary
        for cell in sorted(primary, key=_order):
            if cell not in self.witnesses:
                witness = self._witness(cell)
                self.suppressed |= witness.changes.keys()
                for changed in witness.changes:
                    self.witnesses.setdefault(changed, witness)
        return Disclosure(frozenset(self.suppressed), self.witnesses)

    def _witness(self, target: Cell) -> Witness:
        grouped = [d for d in self.cube.space if target[d] is not None]
        # The more dimensions paired, the fewer coarser cells change: all of the target's first.
        for size in range(len(grouped), 0, -1):
            for likely in (True, False):
                best = None
                candidates = itertools.chain.from_iterable(
                    self._candidates(target, paired, likely) for paired in itertools.combinations(grouped, size)
                )
                if size == 2:  # squares whose sides change several dimensions: no total of one changes
                    candidates = itertools.chain(candidates, self._squares(target, likely))
                for candidate in itertools.islice(candidates, COMPARED):
                    if best is None or candidate[0] < best[0]:
                        best = candidate
                        if not candidate[0][0]:  # hides nothing more: none can be better
                            break
                if best is not None:
                    return best[1]
        # No hypercube fits (sparse counts): a unit moved into the target from any finest cell
        # outside it, which changes the cells holding one of the two but not the grand total;
        # else one unit more inside the target, which always fits.
        for candidates in (self._pairs(target), self._candidates(target, (), False)):
            best = min(itertools.islice(candidates, COMPARED), key=lambda candidate: candidate[0], default=None)
            if best is not None:
                return best[1]
        raise AssertionError(f"no witness for {target}")  # one unit more inside a listed cell always fits

    def _pairs(self, target: Cell) -> Iterator[tuple[tuple, Witness]]:
        cube = self.cube
        inside = [p for p in cube.points if all(target[d] is None or target[d] == p[d] for d in cube.space)]
        within = frozenset(inside)
        outside = [p for p in cube.points if p not in within]
        for gaining in sorted(inside, key=lambda p: (-cube.count(p), _order(p)))[:LIKELY]:
            # The nearest first: the fewer dimensions differ, the fewer coarse cells change.
            nearest = sorted(outside, key=lambda p: (sum(p[d] != gaining[d] for d in cube.space), _order(p)))
            for losing in nearest[: LIKELY * LIKELY * LIKELY]:
                for moved, changes in cube.units.moves(cube, (gaining, losing), (1, -1), None, target):
                    if target in changes:
                        witness = Witness((gaining, losing), (1, -1), changes, moved)
                        yield self._cost(changes, (gaining, losing), moved), witness

    def _squares(self, target: Cell, likely: bool) -> Iterator[tuple[tuple, Witness]]:
        """Four points, + at the target's corner x, - at y and z, + at w, where y differs from x in
        some dimensions and z in others, and w takes y's values in the first and z's in the second:
        in every dimension the + and - share values, so every total of one dimension (and the
        grand total) keeps its sum. A square of two dimensions is one; for counts too sparse for
        those, the sides may change several dimensions at once."""
        cube = self.cube
        free = [d for d in cube.space if target[d] is None]
        options = [sorted(cube.values[d], key=lambda v, d=d: -cube.count(_with(target, d, v))) for d in free]
        many = LIKELY * LIKELY * (1 if likely else 3)
        for fixed in itertools.product(*(o[:LIKELY] if likely else o for o in options)):
            own = list(target)
            if cube.units.layer is not None:
                own[cube.units.layer] = None
            for d, value in zip(free, fixed):
                own[d] = value
            own = tuple(own)
            if not cube.count(own):
                continue
            for first in self._around(own, cube.space, many):
                moved = [d for d in cube.space if first[d] != own[d]]
                others = [d for d in cube.space if d not in moved]
                for second in self._around(own, others, many):
                    last = tuple(first[d] if d in moved else second[d] for d in range(cube.width))
                    if not cube.count(last):
                        continue
                    corners = (own, first, second, last)
                    for direction in ((1, -1, -1, 1), (-1, 1, 1, -1)):
                        for unit, changes in cube.units.moves(cube, corners, direction, None, target):
                            if target in changes:
                                witness = Witness(corners, direction, changes, unit)
                                yield self._cost(changes, (*fixed, first, second), unit), witness

    def _around(self, point: Cell, dimensions: Sequence[int], most: int) -> Iterator[Cell]:
        """Listed points differing from ``point`` in some of ``dimensions`` only, the fewest first;
        at most ``most`` of them."""
        cube, found = self.cube, 0
        for size in range(1, len(dimensions) + 1):
            for changed in itertools.combinations(dimensions, size):
                alternatives = [[v for v in cube.values[d] if v != point[d]] for d in changed]
                for values in itertools.product(*alternatives):
                    other = list(point)
                    for d, value in zip(changed, values):
                        other[d] = value
                    other = tuple(other)
                    if cube.count(other):
                        yield other
                        found += 1
                        if found >= most:
                            return

    def _candidates(self, target: Cell, paired: Sequence[int], likely: bool) -> Iterator[tuple[tuple, Witness]]:
        """Hypercubes pairing ``paired`` (the target's values and a partner's), with one value in each
        dimension the target is not grouped by. Every corner must be listed, so only values whose
        corner next to the target's is listed are tried."""
        cube = self.cube
        paired = tuple(paired)
        free = [d for d in cube.space if target[d] is None]
        options = [sorted(cube.values[d], key=lambda v, d=d: -cube.count(_with(target, d, v))) for d in free]
        flips = list(itertools.product((False, True), repeat=len(paired)))
        # + on the target's corner and on every corner an even number of partners away, - on the others.
        signs = tuple(-1 if sum(flip) % 2 else 1 for flip in flips)
        for fixed in itertools.product(*(o[:LIKELY] if likely else o for o in options)):
            own = list(target)  # the target's corner: its values, these, and the persons' layer
            if cube.units.layer is not None:
                own[cube.units.layer] = None
            for d, value in zip(free, fixed):
                own[d] = value
            if not cube.count(tuple(own)):
                continue
            partners = []
            for d in paired:
                near = [v for v in cube.values[d] if v != target[d] and cube.count(_with(tuple(own), d, v))]
                near.sort(key=lambda v, d=d: self._rank_partner(target, d, v))
                partners.append(near[:LIKELY] if likely else near)
            for chosen in itertools.product(*partners):
                corners = []
                for flip in flips:
                    corner = list(own)
                    for d, flipped, value in zip(paired, flip, chosen):
                        if flipped:
                            corner[d] = value
                    corners.append(tuple(corner))
                for direction in (signs, tuple(-s for s in signs)):
                    for moved, changes in cube.units.moves(cube, corners, direction, paired, target):
                        if target in changes:
                            witness = Witness(tuple(corners), direction, changes, moved)
                            yield self._cost(changes, (*fixed, *chosen), moved), witness

    def _cost(self, changes: Mapping[Cell, int], chosen: Sequence, moved: str) -> tuple:
        """The counts newly hidden, then how many cells; then a fixed order among equals."""
        fresh = [cell for cell in changes if cell not in self.suppressed]
        return (sum(self.cube.counts[cell] for cell in fresh), len(fresh), repr(tuple(chosen)), moved)

    def _rank_partner(self, target: Cell, d: int, value: Hashable) -> tuple:
        sibling = _with(target, d, value)
        count = self.cube.count(sibling)
        return (sibling not in self.suppressed, count == 0, count)


def _spread(
    corners: Sequence[Cell],
    signs: Sequence[int],
    layers: Sequence[Hashable],
    layer: int | None,
    paired: tuple[int, ...] | None,
) -> dict[Cell, int]:
    """What a unit more or less at each corner (by ``signs``) changes in the given layers: each cell
    by the signs of the corners it holds. For a hypercube (``paired`` given), that is the cells
    grouped by its paired dimensions that hold a corner, by one; the others cancel."""
    changes: dict[Cell, int] = {}
    for corner, sign in zip(corners, signs):
        for cell in _coarser(corner) if paired is None else _grouped_by(corner, paired):
            for kind in layers if layer is not None else (None,):
                placed = cell if layer is None else _in_layer(cell, layer, kind)
                changes[placed] = changes.get(placed, 0) + sign
    return {cell: change for cell, change in changes.items() if change}


def _type_sets(held_by_all: set, wanted: Hashable | None, types: Sequence[Hashable]) -> Iterator[frozenset]:
    """The sets of types worth trying for persons moved whole: those every candidate must hold,
    with the target's type, or with one more type when none is needed."""
    base = set(held_by_all) | ({wanted} if wanted is not None else set())
    seen = set()
    for extra in [None, *types]:
        kinds = frozenset(base | ({extra} if extra is not None else set()))
        if kinds and kinds not in seen:
            seen.add(kinds)
            yield kinds


@functools.lru_cache(maxsize=1 << 16)
def _coarser(cell: Cell) -> tuple[Cell, ...]:
    """The cell and every cell containing it."""
    return _grouped_by(cell, ())


@functools.lru_cache(maxsize=1 << 16)
def _grouped_by(cell: Cell, paired: tuple[int, ...]) -> tuple[Cell, ...]:
    """The cells containing this one that are grouped by every ``paired`` dimension."""
    free = [d for d, value in enumerate(cell) if value is not None and d not in paired]
    found = []
    for size in range(len(free) + 1):
        for kept in itertools.combinations(free, size):
            found.append(tuple(value if d in paired or d in kept else None for d, value in enumerate(cell)))
    return tuple(found)


def _order(cell: Sequence) -> tuple:
    """Coarsest first, then by value: a fixed order, so that the result depends on the counts only."""
    return (
        sum(value is not None for value in cell),
        tuple((0, "") if value is None else (1, value) for value in cell),
    )


def _in_layer(cell: Cell, layer: int, kind: Hashable | None) -> Cell:
    return tuple(kind if d == layer else value for d, value in enumerate(cell))


def _with(cell: Cell, d: int, value: Hashable) -> Cell:
    return tuple(value if i == d else v for i, v in enumerate(cell))
