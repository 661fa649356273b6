"""Secondary suppression (A6): no suppressed cell of a cube can be worked out from the others.

Every property is checked two ways: each suppressed cell's witness is applied and must change that
cell and nothing shown; and an attacker (tests/attacker.py) solving every equation the shown
counts give must fail to pin any suppressed cell.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.disclosure import Persons, margins, protect
from tests.attacker import pinned

THRESHOLD = 5
ALL = None


def coarser(cell: tuple) -> set[tuple]:
    grouped = [d for d, value in enumerate(cell) if value is not None]
    return {
        tuple(value if d in kept else None for d, value in enumerate(cell))
        for size in range(len(grouped) + 1)
        for kept in itertools.combinations(grouped, size)
    }


def attack_additive(finest: dict[tuple, int], suppressed: frozenset) -> dict:
    cube = margins(finest)
    shown = {cell: count for cell, count in cube.items() if cell not in suppressed}
    return pinned({cell: coarser(cell) for cell in finest}, shown, suppressed, suppressed, cube)


# Counts that add up

small_counts = st.sampled_from([0, 0, 1, 1, 1, 2, 3, 4, 5, 6, 9, 14])


@st.composite
def additive_tables(draw, most_dimensions=3):
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=most_dimensions))
    cells = list(itertools.product(*(range(size) for size in sizes)))
    return {cell: draw(small_counts) for cell in cells}


@settings(max_examples=200, deadline=None)
@given(additive_tables(most_dimensions=4))
def test_every_suppressed_cell_has_a_witness_that_changes_it_and_nothing_shown(finest):
    cube = margins(finest)
    result = protect(cube, THRESHOLD)

    assert {cell for cell, count in cube.items() if count < THRESHOLD} <= result.suppressed
    for cell in result.suppressed:
        witness = result.witnesses[cell]
        moved = dict(finest)
        for corner, sign in zip(witness.corners, witness.signs):
            moved[corner] += sign
        assert min(moved.values()) >= 0
        after = margins(moved)
        changes = {c: after.get(c, 0) - cube.get(c, 0) for c in cube.keys() | after.keys()}
        assert {c: change for c, change in changes.items() if change} == witness.changes
        assert witness.changes[cell] != 0 and witness.changes.keys() <= result.suppressed
        assert after.keys() == cube.keys()  # the same groups listed, none emptied


@settings(max_examples=150, deadline=None)
@given(additive_tables())
def test_an_attacker_solving_every_shown_count_pins_no_suppressed_cell(finest):
    result = protect(margins(finest), THRESHOLD)

    assert attack_additive(finest, result.suppressed) == {}


def test_the_probe_a_flexible_one_is_not_the_margin_less_the_employer_ten():
    # One district's medical persons by channel: FLEXIBLE 1, EMPLOYER 10 (and pension in both).
    finest = {("MEDICAL", "FLEXIBLE"): 1, ("MEDICAL", "EMPLOYER"): 10, ("PENSION", "FLEXIBLE"): 8}
    finest[("PENSION", "EMPLOYER")] = 12
    cube = margins(finest)
    only_small = frozenset(cell for cell, count in cube.items() if count < THRESHOLD)

    # Hiding small groups only: MEDICAL 11 less EMPLOYER 10 gives FLEXIBLE 1.
    assert attack_additive(finest, only_small)[("MEDICAL", "FLEXIBLE")] == (1, 1)
    result = protect(cube, THRESHOLD)
    assert attack_additive(finest, result.suppressed) == {}
    # The smallest hypercube: the four finest cells; every margin stays shown.
    assert result.suppressed == frozenset(finest)


def test_the_grand_total_is_kept_when_a_unit_can_come_from_elsewhere():
    # Sparse: no aligned partner holds two, but a unit can move in from a cell that does.
    finest = {(0, 0): 1, (1, 1): 7, (0, 1): 0, (1, 0): 0}
    result = protect(margins(finest), THRESHOLD)

    assert (ALL, ALL) not in result.suppressed
    assert attack_additive(finest, result.suppressed) == {}


def test_the_same_counts_get_the_same_suppression_in_any_order():
    finest = {(a, b, c): (a * 7 + b * 3 + c) % 6 for a in range(3) for b in range(3) for c in range(2)}
    cube = margins(finest)
    backwards = dict(reversed(list(cube.items())))

    assert protect(cube, THRESHOLD).suppressed == protect(backwards, THRESHOLD).suppressed


# Persons counted once a group, in a layer for all and a layer for each insurance type

TYPES = ("MEDICAL", "PENSION")
CHANNELS = ("EMPLOYER", "FLEXIBLE")
STATUSES = ("ACTIVE", "SUSPENDED")
POLICIES = list(itertools.product(TYPES, CHANNELS, STATUSES))
PERSONS = Persons(layer=0, partition=2)  # cells: (insurance type, channel, district, status)


def cells_of_person(district: int, policies: frozenset) -> set[tuple]:
    """Every cell a person is counted in: in each, once, whatever policies match it."""
    return {cell for kind, channel, status in policies for cell in coarser((kind, channel, district, status))}


def persons_cube(persons: list[tuple[int, frozenset]]) -> dict[tuple, int]:
    cube: dict[tuple, int] = {}
    for district, policies in persons:
        for cell in cells_of_person(district, policies):
            cube[cell] = cube.get(cell, 0) + 1
    return cube


def attack_persons(persons: list[tuple[int, frozenset]], suppressed: frozenset) -> dict:
    """Units: persons of a district holding any one or two policies (two of a type too, as when
    someone changes channel within a month): more kinds than anyone holds, so the attacker is no
    weaker for not knowing which."""
    cube = persons_cube(persons)
    shown = {cell: count for cell, count in cube.items() if cell not in suppressed}
    districts = sorted({district for district, _ in persons})
    kinds = [frozenset(held) for size in (1, 2) for held in itertools.combinations(POLICIES, size)]
    kinds += [frozenset(policies) for _, policies in persons if len(policies) > 2]
    cells_of = {(district, held): cells_of_person(district, held) for district in districts for held in kinds}
    return pinned(cells_of, shown, suppressed, suppressed, cube)


@st.composite
def persons_worlds(draw):
    """Persons mostly holding their policies in one channel and status, some in two (mixed)."""
    districts = draw(st.integers(1, 2))
    persons = []
    for _ in range(draw(st.integers(3, 24))):
        district = draw(st.integers(0, districts - 1))
        channel, status = draw(st.sampled_from(CHANNELS)), draw(st.sampled_from(STATUSES))
        types = draw(st.sampled_from([("PENSION",), ("MEDICAL",), TYPES, TYPES, TYPES]))
        held = {(kind, channel, status) for kind in types}
        if draw(st.integers(0, 5)) == 0:  # mixed: another channel or status, or a second policy of a type
            held.add(draw(st.sampled_from(POLICIES)))
        persons.append((district, frozenset(held)))
    return persons


@settings(max_examples=150, deadline=None)
@given(persons_worlds())
def test_persons_holding_several_policies_cannot_be_pinned_either(persons):
    result = protect(persons_cube(persons), THRESHOLD, units=PERSONS)

    assert attack_persons(persons, result.suppressed) == {}


def test_counted_as_if_they_added_up_persons_would_give_a_suppressed_group_away():
    # District 0: 4 on the employer channel hold pension and medical, 2 flexible pension only; district
    # 1 is larger. Treating the cube as counts that add up hides too little here.
    persons = [(0, frozenset({("PENSION", "EMPLOYER", "ACTIVE"), ("MEDICAL", "EMPLOYER", "ACTIVE")}))] * 4
    persons += [(0, frozenset({("PENSION", "FLEXIBLE", "ACTIVE")}))] * 2
    persons += [(1, frozenset({("PENSION", "EMPLOYER", "ACTIVE"), ("MEDICAL", "EMPLOYER", "ACTIVE")}))] * 9
    persons += [(1, frozenset({("PENSION", "FLEXIBLE", "ACTIVE"), ("MEDICAL", "FLEXIBLE", "ACTIVE")}))] * 7
    cube = persons_cube(persons)

    as_if_adding_up = protect(cube, THRESHOLD).suppressed
    assert attack_persons(persons, as_if_adding_up) != {}
    assert attack_persons(persons, protect(cube, THRESHOLD, units=PERSONS).suppressed) == {}
