"""Default values of the parameters (docs/rules.md P2-P7), effective from the first month the hall keeps.

P1 (the average monthly wage) has no default: it is published per year (publishAverageWage).
"""

from decimal import Decimal

from domain.enums import ParameterCode

DEFAULTS_EFFECTIVE_FROM = 199201

CARD_PHOTO_STANDARD = {
    "format": "JPEG",
    "width": 358,
    "height": 441,
    "colour_bits": 24,
    "background": "white",
    "head_share_of_frame": "2/3",
    "face_width_px": 207,
    "face_width_tolerance_px": 14,
    "min_bytes": 14 * 1024,
    "max_bytes": 40 * 1024,
}

DEFAULT_VALUES: dict[ParameterCode, Decimal] = {
    ParameterCode.FLEX_PENSION_RATE: Decimal("0.20"),
    ParameterCode.FLEX_PENSION_GRADE_MIN: Decimal("0.60"),
    ParameterCode.FLEX_PENSION_GRADE_MAX: Decimal("3.00"),
    ParameterCode.FLEX_PENSION_GRADE_STEP: Decimal("0.10"),
    ParameterCode.FLEX_MEDICAL_RATE: Decimal("0.06"),
    ParameterCode.FLEX_MEDICAL_TOP_UP: Decimal("7.00"),
    ParameterCode.EMPLOYER_BASE_FLOOR: Decimal("0.60"),
    ParameterCode.EMPLOYER_BASE_CEILING: Decimal("3.00"),
    ParameterCode.PENSION_RATE_EMPLOYER: Decimal("0.16"),
    ParameterCode.PENSION_RATE_PERSON: Decimal("0.08"),
    ParameterCode.MEDICAL_RATE_EMPLOYER: Decimal("0.08"),
    ParameterCode.MEDICAL_RATE_PERSON: Decimal("0.02"),
    ParameterCode.UNEMPLOYMENT_RATE_EMPLOYER: Decimal("0.007"),
    ParameterCode.UNEMPLOYMENT_RATE_PERSON: Decimal("0.003"),
    ParameterCode.WORK_INJURY_RATE_EMPLOYER: Decimal("0.005"),
    ParameterCode.MATERNITY_RATE_EMPLOYER: Decimal("0.007"),
    ParameterCode.BACK_PAY_INTEREST_RATE: Decimal("0.015"),
}

DEFAULT_JSON: dict[ParameterCode, dict] = {ParameterCode.CARD_PHOTO_STANDARD: CARD_PHOTO_STANDARD}
