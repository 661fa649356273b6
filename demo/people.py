"""The persons of the demo city and their histories, written as rows through a BulkWriter.

Every person is one of a few profiles (employed, flexible, retired ...). A flexible person's
months are lived in order, the way the hall would have recorded them: deposits before the 20th
(M3), the month-end debit with pension first (M4, P6), arrears for what could not be collected,
arrears later paid with interest (F6, P5) or cancelled (F7), suspensions and continuations (F1,
F3) that leave interruptions, and grade changes (F4).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from itertools import accumulate

from demo.bulk import (
    ARREAR,
    EMPLOYMENT,
    LEDGER_ENTRY,
    PASSBOOK,
    PAYMENT_ORDER,
    PAYMENT_ORDER_LINE,
    PERIOD,
    PERSON,
    POLICY,
    TRANSACTION,
    BulkWriter,
)
from demo.calendar import EMPLOYER_HISTORY_MONTHS, Calendar
from demo.names import DistrictInfo, home_address, mobile_phone, person_name, resident_id
from domain.enums import (
    OWED_ARREARS,
    ArrearStatus,
    BusinessType,
    Channel,
    EmploymentStatus,
    Gender,
    InsuranceType,
    LedgerKind,
    PaidVia,
    PaymentOrderKind,
    PaymentOrderStatus,
    PeriodStatus,
    PersonCategory,
    PolicyStatus,
    RetirementClass,
    ServiceChannel,
    TransactionStatus,
)
from domain.months import Month, month_range

# Profiles and their shares of the city (flexible ones above the real 7%, for a livelier demo).
PROFILES = (
    ("employed", 62),
    ("flexible", 12),
    ("flexible_then_lapsed", 2),
    ("flexible_then_employed", 2),
    ("left_employer", 3),
    ("uninsured", 7),
    ("retired", 12),
)
PROFILE_CUMULATIVE = tuple(accumulate(weight for _, weight in PROFILES))

# Most flexible payers choose the lowest grade (P2).
GRADE_WEIGHTS = (
    ("0.60", 50),
    ("0.70", 6),
    ("0.80", 10),
    ("0.90", 3),
    ("1.00", 15),
    ("1.20", 4),
    ("1.50", 5),
    ("2.00", 3),
    ("2.50", 2),
    ("3.00", 2),
)
GRADES = tuple(Decimal(grade) for grade, _ in GRADE_WEIGHTS)
GRADE_CUMULATIVE = tuple(accumulate(weight for _, weight in GRADE_WEIGHTS))

EMPLOYER_TYPES = tuple(InsuranceType)
FLEXIBLE_TYPES = (InsuranceType.PENSION, InsuranceType.MEDICAL)  # debit priority: pension first (P6)
RETIREMENT_AGE = {
    (Gender.MALE, RetirementClass.WORKER): 60,
    (Gender.MALE, RetirementClass.CADRE): 60,
    (Gender.FEMALE, RetirementClass.WORKER): 50,
    (Gender.FEMALE, RetirementClass.CADRE): 55,
}
BIRTH_YEARS = (1960, 2004)
HUNDRED = Decimal("100")
ZERO = Decimal("0.00")
REJECTION_REASONS = ("材料不全：缺少劳动合同复印件", "身份证件信息与档案不一致", "参保人已在其他单位参保")


@dataclass(frozen=True, slots=True)
class Place:
    district_id: int
    community_id: int
    district: DistrictInfo


@dataclass(frozen=True, slots=True)
class EmployerRef:
    id: int
    district_id: int


@dataclass(slots=True)
class Identity:
    id: int
    id_number: str
    name: str
    gender: Gender
    birth_date: dt.date
    archive_birth_date: dt.date | None
    retirement_class: RetirementClass
    place: Place
    phone: str
    address: str


@dataclass(slots=True)
class PeriodRecord:
    """A flexible month whose status may still change (paid late, cancelled) before it is written."""

    id: int
    policy_id: int
    month: int
    insurance_type: InsuranceType
    grade: Decimal | None
    base: Decimal
    rate: Decimal
    amount: Decimal
    created_at: dt.datetime
    status: PeriodStatus = PeriodStatus.DUE
    paid_via: PaidVia | None = None
    paid_at: dt.datetime | None = None


@dataclass(slots=True)
class ArrearRecord:
    id: int
    period: PeriodRecord
    created_at: dt.datetime
    status: ArrearStatus = ArrearStatus.OPEN
    resolved_at: dt.datetime | None = None


@dataclass(slots=True)
class Segment:
    """A stretch of flexible insurance: one pension policy, and a medical one when chosen."""

    start: Month
    end: Month | None
    pension_policy_id: int
    medical_policy_id: int | None
    enrolled_at: dt.datetime


@dataclass(slots=True)
class ArrearsOrder:
    """Arrears the person chose to pay (F6): principal plus interest to the collection month (P5)."""

    id: int
    transaction_id: int
    collection_month: int
    arrears: list[ArrearRecord]
    interests: list[Decimal]
    ordered_at: dt.datetime
    collected_at: dt.datetime | None = None

    @property
    def principal(self) -> Decimal:
        return sum((arrear.period.amount for arrear in self.arrears), ZERO)

    @property
    def interest(self) -> Decimal:
        return sum(self.interests, ZERO)

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest


@dataclass
class PersonBuilder:
    """Adds persons one by one, each of a profile drawn from PROFILES, with every row that follows."""

    rng: random.Random
    writer: BulkWriter
    calendar: Calendar
    places: list[Place]
    place_cumulative: tuple[float, ...]
    employers: list[EmployerRef]
    employer_cumulative: tuple[float, ...]
    taken_id_numbers: set[str] = field(default_factory=set)
    categories: Counter = field(default_factory=Counter)
    _bank_serial: int = 0

    def add_person(self) -> None:
        profile = PROFILES[bisect.bisect_right(PROFILE_CUMULATIVE, self.rng.random() * PROFILE_CUMULATIVE[-1])][0]
        builders = {
            "employed": self._add_employed,
            "flexible": self._add_flexible,
            "flexible_then_lapsed": self._add_flexible_then_lapsed,
            "flexible_then_employed": self._add_flexible_then_employed,
            "left_employer": self._add_left_employer,
            "uninsured": self._add_uninsured,
            "retired": self._add_retired,
        }
        builders[profile]()

    # Profiles

    def _add_employed(self) -> None:
        person = self._identity(retired=False)
        start = self._employment_start(latest_offset=EMPLOYER_HISTORY_MONTHS - 1)
        self._employment(person, self._employer(), start, end=None)
        self._person_row(person, PersonCategory.EMPLOYED, self._long_ago())

    def _add_left_employer(self) -> None:
        person = self._identity(retired=False)
        start = self._employment_start(latest_offset=EMPLOYER_HISTORY_MONTHS - 3)
        end = start.plus(self.rng.randint(0, start.months_until(self.calendar.last_month) - 1))
        employer = self._employer()
        self._employment(person, employer, start, end=end)
        leaving = end.plus(1)
        moment = self.calendar.office_hours(self.rng, leaving.to_int(), last_day=20)
        self.transaction(
            BusinessType.REMOVE_EMPLOYEES,
            TransactionStatus.COMPLETED,
            moment,
            person=person,
            employer=employer,
            effective_month=leaving.to_int(),
            decided_at=moment,
            details={"last_month": end.to_int()},
        )
        self._person_row(person, PersonCategory.UNINSURED, self._long_ago())

    def _add_uninsured(self) -> None:
        person = self._identity(retired=False)
        chance = self.rng.random()
        if chance < 0.25:
            self._pending_hire(person)
        elif chance < 0.30:
            self._rejected_hire(person)
        self._person_row(person, PersonCategory.UNINSURED, self._long_ago())

    def _add_retired(self) -> None:
        person = self._identity(retired=True)
        self._person_row(person, PersonCategory.RETIRED, self._long_ago())

    def _add_flexible(self) -> None:
        story = "interrupted" if self.rng.random() < 0.15 else "steady"
        self._flexible_person(story)

    def _add_flexible_then_lapsed(self) -> None:
        self._flexible_person("lapsed")

    def _add_flexible_then_employed(self) -> None:
        self._flexible_person("to_job")

    def _flexible_person(self, story: str) -> None:
        person = self._identity(retired=False)
        history = FlexibleHistory(self, person, story)
        category = history.live()
        if story == "to_job":
            hired = history.segments[-1].end.plus(1)
            employer = self._employer()
            self._employment(person, employer, hired, end=None, filed=True)
            category = PersonCategory.EMPLOYED
        registered = history.segments[0].enrolled_at - dt.timedelta(days=self.rng.randint(0, 60))
        self._person_row(person, category, registered)

    # Employment (P4)

    def _employment_start(self, latest_offset: int) -> Month:
        """Most staff were there before the history starts; some were added (E2) within it."""
        first = self.calendar.employer_first
        return first if self.rng.random() < 0.85 else first.plus(self.rng.randint(1, latest_offset))

    def _employment(
        self, person: Identity, employer: EmployerRef, start: Month, end: Month | None, filed: bool | None = None
    ) -> None:
        calendar, writer = self.calendar, self.writer
        wage = self._declared_wage()
        status = EmploymentStatus.ENDED if end else EmploymentStatus.ACTIVE
        writer.add(
            EMPLOYMENT,
            (
                writer.new_id(EMPLOYMENT),
                person.id,
                employer.id,
                start.to_int(),
                end.to_int() if end else None,
                wage,
                status.value,
            ),
        )
        if filed or (filed is None and start != calendar.employer_first):
            moment = calendar.office_hours(self.rng, start.to_int(), last_day=20)  # E2: by the 20th
            self.transaction(
                BusinessType.ADD_EMPLOYEES,
                TransactionStatus.COMPLETED,
                moment,
                person=person,
                employer=employer,
                effective_month=start.to_int(),
                decided_at=moment,
                details={"declared_wage": str(wage)},
            )
        months = [m.to_int() for m in month_range(start, min(end or calendar.last_month, calendar.last_month))]
        policy_status = PolicyStatus.TERMINATED if end else PolicyStatus.ACTIVE
        created = calendar.month_start(start.to_int())
        for insurance_type in EMPLOYER_TYPES:
            policy_id = writer.new_id(POLICY)
            writer.add(
                POLICY,
                (
                    policy_id,
                    person.id,
                    insurance_type.value,
                    Channel.EMPLOYER.value,
                    employer.id,
                    policy_status.value,
                    None,
                    start.to_int(),
                    end.to_int() if end else None,
                    created,
                ),
            )
            for month in months:
                price = calendar.employer_price(month, wage, insurance_type)
                writer.add(
                    PERIOD,
                    (
                        writer.new_id(PERIOD),
                        policy_id,
                        person.id,
                        month,
                        insurance_type.value,
                        Channel.EMPLOYER.value,
                        None,
                        price.base,
                        price.rate,
                        price.total,
                        price.employer_amount,
                        PeriodStatus.PAID.value,
                        PaidVia.EMPLOYER.value,
                        calendar.month_end(month),
                        calendar.month_start(month),
                    ),
                )

    def _declared_wage(self) -> Decimal:
        """A monthly wage in whole hundreds around the average; some fall outside the P4 limits."""
        average = self.calendar.average_wage(self.calendar.this_month.to_int())
        percent_of_average = round(90 * self.rng.lognormvariate(0, 0.45))
        hundreds = (average * percent_of_average / 100 / HUNDRED).to_integral_value()
        return (max(hundreds, Decimal(10)) * HUNDRED).quantize(ZERO)

    def _pending_hire(self, person: Identity) -> None:
        """An addition filed this month and not yet reviewed (E2): effective this month by the 20th."""
        this_month = self.calendar.this_month
        moment = self.calendar.office_hours(self.rng, this_month.to_int())
        effective = this_month if moment.day <= 20 else this_month.plus(1)
        self.transaction(
            BusinessType.ADD_EMPLOYEES,
            TransactionStatus.SUBMITTED,
            moment,
            person=person,
            employer=self._employer(),
            effective_month=effective.to_int(),
            details={"declared_wage": str(self._declared_wage())},
        )

    def _rejected_hire(self, person: Identity) -> None:
        month = self.calendar.employer_first.plus(self.rng.randint(0, EMPLOYER_HISTORY_MONTHS - 1))
        moment = self.calendar.office_hours(self.rng, month.to_int(), last_day=20)
        self.transaction(
            BusinessType.ADD_EMPLOYEES,
            TransactionStatus.REJECTED,
            moment,
            person=person,
            employer=self._employer(),
            effective_month=month.to_int(),
            decided_at=moment + dt.timedelta(hours=2),
            reason=self.rng.choice(REJECTION_REASONS),
            details={"declared_wage": str(self._declared_wage())},
        )

    def _employer(self) -> EmployerRef:
        index = bisect.bisect_right(self.employer_cumulative, self.rng.random() * self.employer_cumulative[-1])
        return self.employers[index]

    # Identity (A1)

    def _identity(self, retired: bool) -> Identity:
        rng = self.rng
        place = self.places[bisect.bisect_right(self.place_cumulative, rng.random() * self.place_cumulative[-1])]
        gender = Gender.MALE if rng.random() < 0.52 else Gender.FEMALE
        retirement_class = RetirementClass.CADRE if rng.random() < 0.2 else RetirementClass.WORKER
        birth = self._birth_date(RETIREMENT_AGE[gender, retirement_class], retired)
        is_male = gender is Gender.MALE
        archive = birth - dt.timedelta(days=rng.randint(200, 1200)) if rng.random() < 0.03 else None
        return Identity(
            id=self.writer.new_id(PERSON),
            id_number=resident_id(rng, place.district.code, birth, is_male, self.taken_id_numbers),
            name=person_name(rng, is_male),
            gender=gender,
            birth_date=birth,
            archive_birth_date=archive,
            retirement_class=retirement_class,
            place=place,
            phone=mobile_phone(rng),
            address=home_address(rng, place.district),
        )

    def _birth_date(self, retirement_age: int, retired: bool) -> dt.date:
        """Working persons are 18 and under their retirement age (Q3); retired ones past it."""
        year_now = self.calendar.this_month.year
        if retired:
            low, high = BIRTH_YEARS[0], year_now - retirement_age - 1
        else:
            low, high = year_now - retirement_age + 1, year_now - 18
        low, high = max(low, BIRTH_YEARS[0]), min(high, BIRTH_YEARS[1])
        year = self.rng.randint(low, max(low, high))
        return dt.date(year, 1, 1) + dt.timedelta(days=self.rng.randrange(365))

    def _person_row(self, person: Identity, category: PersonCategory, registered_at: dt.datetime) -> None:
        self.categories[category.value] += 1
        self.writer.add(
            PERSON,
            (
                person.id,
                person.id_number,
                person.name,
                person.gender.value,
                person.birth_date,
                person.archive_birth_date,
                person.retirement_class.value,
                category.value,
                person.place.district_id,
                person.place.community_id,
                person.phone,
                person.address,
                registered_at,
                registered_at,
            ),
        )

    def _long_ago(self) -> dt.datetime:
        return self.calendar.now - dt.timedelta(days=self.rng.randint(800, 5000), minutes=self.rng.randrange(600))

    # Shared rows

    def transaction(
        self,
        business_type: BusinessType,
        status: TransactionStatus,
        submitted_at: dt.datetime,
        *,
        person: Identity | None = None,
        employer: EmployerRef | None = None,
        effective_month: int | None = None,
        decided_at: dt.datetime | None = None,
        reason: str | None = None,
        details: dict | None = None,
        channel: ServiceChannel = ServiceChannel.ONLINE,
    ) -> int:
        """Record a BusinessTransaction in the district of its person, or else of its employer."""
        transaction_id = self.writer.new_id(TRANSACTION)
        district_id = person.place.district_id if person else employer.district_id  # type: ignore[union-attr]
        self.writer.add(
            TRANSACTION,
            (
                transaction_id,
                business_type.value,
                status.value,
                channel.value,
                person.id if person else None,
                employer.id if employer else None,
                district_id,
                submitted_at,
                effective_month,
                json.dumps(details or {}, ensure_ascii=False, separators=(",", ":")),
                decided_at,
                reason,
            ),
        )
        return transaction_id

    def bank_reference(self, day: dt.datetime) -> str:
        self._bank_serial += 1
        return f"PSBC{day:%Y%m%d}{self._bank_serial:010d}"


class FlexibleHistory:
    """One flexible person's months, lived in order: periods, passbook ledger, arrears, business."""

    def __init__(self, builder: PersonBuilder, person: Identity, story: str) -> None:
        self.builder, self.person, self.story = builder, person, story
        self.rng, self.calendar, self.writer = builder.rng, builder.calendar, builder.writer
        self.passbook_id = self.writer.new_id(PASSBOOK)
        self.balance = ZERO
        self.last_movement: dt.datetime | None = None
        self.periods: list[PeriodRecord] = []
        self.arrears: list[ArrearRecord] = []
        self.orders: list[ArrearsOrder] = []
        self.grade = GRADES[bisect.bisect_right(GRADE_CUMULATIVE, self.rng.random() * GRADE_CUMULATIVE[-1])]
        self.grade_change: tuple[int, Decimal] | None = None  # (first month of the new grade, new grade)
        self.has_medical = self.rng.random() < 0.8
        struggling = self.rng.random() < 0.25
        self.skip_deposit_chance = 0.35 if struggling else 0.03
        self.prepaid_months = self.rng.choice((1, 1, 1, 2, 3, 6, 12))
        self.segments: list[Segment] = []

    def live(self) -> PersonCategory:
        """Plan the person's stretches of insurance, live every month, and write the rows."""
        self._plan()
        for month in month_range(self.segments[0].start, self.calendar.last_month):
            segment = self._segment_at(month)
            if segment is not None:
                self._live_month(month.to_int(), segment)
        self._maybe_order_arrears_this_month()
        self._write()
        return PersonCategory.FLEXIBLE if self.segments[-1].end is None else PersonCategory.UNINSURED

    # Planning

    def _plan(self) -> None:
        calendar, rng = self.calendar, self.rng
        first, last = calendar.flexible_first, calendar.last_month
        start = first if rng.random() < 0.55 else first.plus(rng.randint(1, 18))
        if self.story == "steady":
            self._enroll(start, None)
        elif self.story == "interrupted":
            suspended = start.plus(rng.randint(2, start.months_until(last) - 3))
            continued_in = suspended.plus(rng.randint(1, suspended.months_until(calendar.this_month)))
            self._enroll(start, suspended)
            self._suspend(suspended)
            self._enroll(continued_in.plus(1), None, continuation=True)
        else:  # lapsed, or off to a job
            suspended = start.plus(rng.randint(2, start.months_until(last) - 1))
            self._enroll(start, suspended)
            self._suspend(suspended)
        if self.story == "steady" and rng.random() < 0.15:
            self._plan_grade_change()

    def _enroll(self, start: Month, end: Month | None, continuation: bool = False) -> None:
        """F1: the business is done in the month before contributions start."""
        done_in = start.plus(-1).to_int()
        moment = self.calendar.office_hours(self.rng, done_in)
        channel = ServiceChannel.COUNTER if not continuation and self.rng.random() < 0.4 else ServiceChannel.ONLINE
        types = [InsuranceType.PENSION.value] + ([InsuranceType.MEDICAL.value] if self.has_medical else [])
        self.builder.transaction(
            BusinessType.ENROLL_FLEXIBLE,
            TransactionStatus.COMPLETED,
            moment,
            person=self.person,
            effective_month=start.to_int(),
            decided_at=moment,
            channel=channel,
            details={"insurance_types": types, "pension_grade": str(self.grade), "continuation": continuation},
        )
        medical_policy_id = self.writer.new_id(POLICY) if self.has_medical else None
        self.segments.append(Segment(start, end, self.writer.new_id(POLICY), medical_policy_id, moment))

    def _suspend(self, last_due: Month) -> None:
        """F3: suspended in ``last_due``, so from the next month no period falls due."""
        moment = self.calendar.office_hours(self.rng, last_due.to_int())
        self.builder.transaction(
            BusinessType.SUSPEND_FLEXIBLE,
            TransactionStatus.COMPLETED,
            moment,
            person=self.person,
            effective_month=last_due.plus(1).to_int(),
            decided_at=moment,
            details={
                "insurance_types": [InsuranceType.PENSION.value]
                + ([InsuranceType.MEDICAL.value] if self.has_medical else [])
            },
        )

    def _plan_grade_change(self) -> None:
        """F4: a grade change in an insured month takes effect from the next month."""
        insured = [
            m
            for m in month_range(self.segments[0].start, self.calendar.last_month.plus(-1))
            if self._segment_at(m) is not None
        ]
        if not insured:
            return
        changed_in = self.rng.choice(insured)
        new_grade = self.rng.choice([grade for grade in GRADES if grade != self.grade])
        moment = self.calendar.office_hours(self.rng, changed_in.to_int())
        self.builder.transaction(
            BusinessType.CHANGE_PENSION_GRADE,
            TransactionStatus.COMPLETED,
            moment,
            person=self.person,
            effective_month=changed_in.plus(1).to_int(),
            decided_at=moment,
            details={"from_grade": str(self.grade), "to_grade": str(new_grade)},
        )
        self.grade_change = (changed_in.plus(1).to_int(), new_grade)

    def _segment_at(self, month: Month) -> Segment | None:
        for segment in self.segments:
            if segment.start <= month and (segment.end is None or month <= segment.end):
                return segment
        return None

    def grade_at(self, month: int) -> Decimal:
        if self.grade_change and month >= self.grade_change[0]:
            return self.grade_change[1]
        return self.grade

    # A month

    def _live_month(self, month: int, segment: Segment) -> None:
        dues = self._dues(month, segment)
        order = self._settle_arrears(month)
        self._deposit(month, dues, order)
        self._month_end(month, dues, order)

    def _dues(self, month: int, segment: Segment) -> list[PeriodRecord]:
        created = self.calendar.month_start(month)
        grade = self.grade_at(month)
        pension = self.calendar.pension_price(month, grade)
        dues = [
            PeriodRecord(
                self.writer.new_id(PERIOD),
                segment.pension_policy_id,
                month,
                InsuranceType.PENSION,
                grade,
                pension.base,
                pension.rate,
                pension.amount,
                created,
            )
        ]
        if segment.medical_policy_id is not None:
            medical = self.calendar.medical_price(month)
            dues.append(
                PeriodRecord(
                    self.writer.new_id(PERIOD),
                    segment.medical_policy_id,
                    month,
                    InsuranceType.MEDICAL,
                    None,
                    medical.base,
                    medical.rate,
                    medical.amount,
                    created,
                )
            )
        self.periods.extend(dues)
        return dues

    def _settle_arrears(self, month: int) -> ArrearsOrder | None:
        """Now and then a person deals with open arrears: pays them (F6) or cancels some (F7)."""
        open_arrears = [a for a in self.arrears if a.status is ArrearStatus.OPEN]
        if not open_arrears or self.rng.random() >= 0.10:
            return None
        if self.rng.random() < 0.6:
            return self._order_arrears(month, open_arrears, TransactionStatus.COMPLETED)
        self._cancel_arrears(month, open_arrears)
        return None

    def _order_arrears(self, month: int, arrears: list[ArrearRecord], status: TransactionStatus) -> ArrearsOrder:
        moment = self.calendar.office_hours(self.rng, month, last_day=25)
        order_id = self.writer.new_id(PAYMENT_ORDER)
        interests = [self.calendar.interest(a.period.amount, a.period.month, month) for a in arrears]
        decided_at = self.calendar.month_end(month) if status is TransactionStatus.COMPLETED else None
        transaction_id = self.builder.transaction(
            BusinessType.PAY_ARREARS,
            status,
            moment,
            person=self.person,
            effective_month=month,
            decided_at=decided_at,
            details={"arrear_ids": [a.id for a in arrears], "payment_order_id": order_id},
        )
        for arrear in arrears:
            arrear.status = ArrearStatus.ORDERED
        order = ArrearsOrder(order_id, transaction_id, month, arrears, interests, moment)
        self.orders.append(order)
        return order

    def _cancel_arrears(self, month: int, open_arrears: list[ArrearRecord]) -> None:
        chosen = self.rng.sample(open_arrears, self.rng.randint(1, len(open_arrears)))
        chosen.sort(key=lambda a: a.id)
        moment = self.calendar.office_hours(self.rng, month)
        self.builder.transaction(
            BusinessType.CANCEL_ARREARS,
            TransactionStatus.COMPLETED,
            moment,
            person=self.person,
            decided_at=moment,
            details={"arrear_ids": [a.id for a in chosen], "confirmed": True},
        )
        for arrear in chosen:
            arrear.status, arrear.resolved_at = ArrearStatus.CANCELLED, moment
            arrear.period.status = PeriodStatus.CANCELLED

    def _deposit(self, month: int, dues: list[PeriodRecord], order: ArrearsOrder | None) -> None:
        """A deposit before the 20th (M3) when the balance falls short; some months none comes."""
        monthly = sum((period.amount for period in dues), ZERO)
        needed = monthly + (order.total if order else ZERO)
        if self.balance >= needed or (order is None and self.rng.random() < self.skip_deposit_chance):
            return
        shortfall = needed + monthly * (self.prepaid_months - 1) - self.balance
        amount = (shortfall / HUNDRED).to_integral_value(rounding=ROUND_CEILING) * HUNDRED
        moment = self.calendar.office_hours(self.rng, month, last_day=20)
        self._ledger(
            LedgerKind.DEPOSIT, amount.quantize(ZERO), month, moment, bank_reference=self.builder.bank_reference(moment)
        )

    def _month_end(self, month: int, dues: list[PeriodRecord], order: ArrearsOrder | None) -> None:
        """M4: collect pension, then medical (P6); what the balance cannot cover becomes arrears."""
        moment = self.calendar.month_end(month)
        for period in dues:
            if self.balance >= period.amount:
                self._ledger(LedgerKind.CONTRIBUTION_DEBIT, period.amount, month, moment, period_id=period.id)
                period.status, period.paid_via, period.paid_at = PeriodStatus.PAID, PaidVia.PASSBOOK_DEBIT, moment
            else:
                period.status = PeriodStatus.ARREARS
                self.arrears.append(ArrearRecord(self.writer.new_id(ARREAR), period, moment))
        if order is not None:
            self._ledger(LedgerKind.ARREARS_DEBIT, order.total, month, moment, payment_order_id=order.id)
            order.collected_at = moment
            for arrear in order.arrears:
                arrear.status, arrear.resolved_at = ArrearStatus.PAID, moment
                period = arrear.period
                period.status, period.paid_via, period.paid_at = PeriodStatus.PAID, PaidVia.ARREARS_PAYMENT, moment

    def _maybe_order_arrears_this_month(self) -> None:
        """Some persons have asked this month to pay arrears: collected at this month's end (F6)."""
        open_arrears = [a for a in self.arrears if a.status is ArrearStatus.OPEN]
        if open_arrears and self.rng.random() < 0.25:
            self._order_arrears(self.calendar.this_month.to_int(), open_arrears, TransactionStatus.SUBMITTED)

    def _ledger(
        self,
        kind: LedgerKind,
        amount: Decimal,
        month: int,
        moment: dt.datetime,
        *,
        period_id: int | None = None,
        payment_order_id: int | None = None,
        bank_reference: str | None = None,
    ) -> None:
        self.balance = self.balance + amount if kind is LedgerKind.DEPOSIT else self.balance - amount
        self.last_movement = moment
        self.writer.add(
            LEDGER_ENTRY,
            (
                self.writer.new_id(LEDGER_ENTRY),
                self.passbook_id,
                kind.value,
                amount,
                self.balance,
                month,
                period_id,
                payment_order_id,
                bank_reference,
                moment,
            ),
        )

    # Rows

    def _write(self) -> None:
        writer, person_id = self.writer, self.person.id
        opened = self.segments[0].enrolled_at
        writer.add(
            PASSBOOK,
            (
                self.passbook_id,
                person_id,
                f"62218{self.person.place.district.code}{person_id:08d}",
                self.balance,
                opened,
                self.last_movement or opened,
            ),
        )
        for segment in self.segments:
            self._write_policies(segment)
        for period in self.periods:
            writer.add(
                PERIOD,
                (
                    period.id,
                    period.policy_id,
                    person_id,
                    period.month,
                    period.insurance_type.value,
                    Channel.FLEXIBLE.value,
                    period.grade,
                    period.base,
                    period.rate,
                    period.amount,
                    ZERO,
                    period.status.value,
                    period.paid_via.value if period.paid_via else None,
                    period.paid_at,
                    period.created_at,
                ),
            )
        this_month = self.calendar.this_month.to_int()
        for arrear in self.arrears:
            period = arrear.period
            owed = arrear.status in OWED_ARREARS  # their interest as the daily refresh would leave it (P5)
            interest = self.calendar.interest(period.amount, period.month, this_month) if owed else ZERO
            writer.add(
                ARREAR,
                (
                    arrear.id,
                    period.id,
                    person_id,
                    period.month,
                    period.insurance_type.value,
                    period.amount,
                    arrear.status.value,
                    interest,
                    this_month if owed else None,
                    arrear.created_at,
                    arrear.resolved_at,
                ),
            )
        for order in self.orders:
            self._write_order(order)

    def _write_policies(self, segment: Segment) -> None:
        last_month = segment.end or self.calendar.this_month
        status = PolicyStatus.ACTIVE if segment.end is None else PolicyStatus.SUSPENDED
        end = segment.end.to_int() if segment.end else None
        policies = [(segment.pension_policy_id, InsuranceType.PENSION, self.grade_at(last_month.to_int()))]
        if segment.medical_policy_id is not None:
            policies.append((segment.medical_policy_id, InsuranceType.MEDICAL, None))
        for policy_id, insurance_type, grade in policies:
            self.writer.add(
                POLICY,
                (
                    policy_id,
                    self.person.id,
                    insurance_type.value,
                    Channel.FLEXIBLE.value,
                    None,
                    status.value,
                    grade,
                    segment.start.to_int(),
                    end,
                    segment.enrolled_at,
                ),
            )

    def _write_order(self, order: ArrearsOrder) -> None:
        status = PaymentOrderStatus.COLLECTED if order.collected_at else PaymentOrderStatus.OPEN
        self.writer.add(
            PAYMENT_ORDER,
            (
                order.id,
                self.person.id,
                PaymentOrderKind.ARREARS.value,
                status.value,
                order.principal,
                order.interest,
                order.total,
                order.collection_month,
                order.transaction_id,
                order.ordered_at,
                order.collected_at,
            ),
        )
        for arrear, interest in zip(order.arrears, order.interests):
            period = arrear.period
            self.writer.add(
                PAYMENT_ORDER_LINE,
                (
                    self.writer.new_id(PAYMENT_ORDER_LINE),
                    order.id,
                    arrear.id,
                    period.month,
                    period.insurance_type.value,
                    period.base,
                    period.amount,
                    interest,
                ),
            )
