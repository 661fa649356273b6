"""The closed vocabularies of the domain. The database refuses any other value (CHECK constraints)."""

from enum import Enum


class Gender(str, Enum):
    MALE = "MALE"
    FEMALE = "FEMALE"


class PersonCategory(str, Enum):
    """How a person is insured now."""

    EMPLOYED = "EMPLOYED"
    FLEXIBLE = "FLEXIBLE"
    UNINSURED = "UNINSURED"
    RETIRED = "RETIRED"


# Who does flexible-employment business themself (A5): not the employed, nor the retired.
SELF_SERVICE_CATEGORIES = (PersonCategory.FLEXIBLE, PersonCategory.UNINSURED)


class RetirementClass(str, Enum):
    """The archive's job class, which sets a woman's retirement age (rule Q3)."""

    WORKER = "WORKER"
    CADRE = "CADRE"


class InsuranceType(str, Enum):
    PENSION = "PENSION"
    MEDICAL = "MEDICAL"
    UNEMPLOYMENT = "UNEMPLOYMENT"
    WORK_INJURY = "WORK_INJURY"
    MATERNITY = "MATERNITY"


class Channel(str, Enum):
    FLEXIBLE = "FLEXIBLE"
    EMPLOYER = "EMPLOYER"


class PolicyStatus(str, Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"


class EmploymentStatus(str, Enum):
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"


class EmployerStatus(str, Enum):
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"


class PeriodStatus(str, Enum):
    DUE = "DUE"
    PAID = "PAID"
    ARREARS = "ARREARS"
    CANCELLED = "CANCELLED"


class PaidVia(str, Enum):
    PASSBOOK_DEBIT = "PASSBOOK_DEBIT"
    ARREARS_PAYMENT = "ARREARS_PAYMENT"
    INTERRUPTION_BACK_PAY = "INTERRUPTION_BACK_PAY"
    EMPLOYER = "EMPLOYER"
    EMPLOYER_BACK_PAY = "EMPLOYER_BACK_PAY"


class ArrearStatus(str, Enum):
    OPEN = "OPEN"
    ORDERED = "ORDERED"
    PAID = "PAID"
    CANCELLED = "CANCELLED"


OWED_ARREARS = (ArrearStatus.OPEN, ArrearStatus.ORDERED)  # not yet paid nor cancelled


class LedgerKind(str, Enum):
    DEPOSIT = "DEPOSIT"
    CONTRIBUTION_DEBIT = "CONTRIBUTION_DEBIT"
    ARREARS_DEBIT = "ARREARS_DEBIT"
    INTERRUPTION_DEBIT = "INTERRUPTION_DEBIT"


class PaymentOrderKind(str, Enum):
    ARREARS = "ARREARS"
    INTERRUPTION = "INTERRUPTION"


class PaymentOrderStatus(str, Enum):
    OPEN = "OPEN"
    COLLECTED = "COLLECTED"
    LAPSED = "LAPSED"


class BusinessCategory(str, Enum):
    REGISTRATION = "REGISTRATION"
    BACK_PAYMENT = "BACK_PAYMENT"
    BASE_DECLARATION = "BASE_DECLARATION"
    APPOINTMENT = "APPOINTMENT"
    INFORMATION = "INFORMATION"


class BusinessType(str, Enum):
    REGISTER_PERSON = "REGISTER_PERSON"
    REGISTER_EMPLOYER = "REGISTER_EMPLOYER"
    GRANT_ONLINE_ACCESS = "GRANT_ONLINE_ACCESS"
    INSTALL_CERTIFICATE = "INSTALL_CERTIFICATE"
    REVOKE_CERTIFICATE = "REVOKE_CERTIFICATE"
    CHANGE_PASSWORD = "CHANGE_PASSWORD"
    ENROLL_FLEXIBLE = "ENROLL_FLEXIBLE"
    SUSPEND_FLEXIBLE = "SUSPEND_FLEXIBLE"
    CHANGE_PENSION_GRADE = "CHANGE_PENSION_GRADE"
    UPDATE_PERSONAL_INFO = "UPDATE_PERSONAL_INFO"
    APPLY_MEDICAL_CARD = "APPLY_MEDICAL_CARD"
    RECORD_DEPOSIT = "RECORD_DEPOSIT"
    PAY_ARREARS = "PAY_ARREARS"
    CANCEL_ARREARS = "CANCEL_ARREARS"
    PAY_INTERRUPTION = "PAY_INTERRUPTION"
    ADD_EMPLOYEES = "ADD_EMPLOYEES"
    REMOVE_EMPLOYEES = "REMOVE_EMPLOYEES"
    EMPLOYER_BACK_PAY = "EMPLOYER_BACK_PAY"
    DECLARE_CONTRIBUTION_BASE = "DECLARE_CONTRIBUTION_BASE"
    BOOK_APPOINTMENT = "BOOK_APPOINTMENT"
    CANCEL_APPOINTMENT = "CANCEL_APPOINTMENT"
    CHECK_IN_APPOINTMENT = "CHECK_IN_APPOINTMENT"

    @property
    def category(self) -> BusinessCategory:
        return BUSINESS_CATEGORIES[self]


BUSINESS_CATEGORIES = {
    **dict.fromkeys(
        (
            BusinessType.REGISTER_PERSON,
            BusinessType.REGISTER_EMPLOYER,
            BusinessType.GRANT_ONLINE_ACCESS,
            BusinessType.INSTALL_CERTIFICATE,
            BusinessType.REVOKE_CERTIFICATE,
            BusinessType.CHANGE_PASSWORD,
            BusinessType.ENROLL_FLEXIBLE,
            BusinessType.SUSPEND_FLEXIBLE,
            BusinessType.ADD_EMPLOYEES,
            BusinessType.REMOVE_EMPLOYEES,
        ),
        BusinessCategory.REGISTRATION,
    ),
    **dict.fromkeys(
        (
            BusinessType.RECORD_DEPOSIT,
            BusinessType.PAY_ARREARS,
            BusinessType.CANCEL_ARREARS,
            BusinessType.PAY_INTERRUPTION,
            BusinessType.EMPLOYER_BACK_PAY,
        ),
        BusinessCategory.BACK_PAYMENT,
    ),
    **dict.fromkeys(
        (BusinessType.CHANGE_PENSION_GRADE, BusinessType.DECLARE_CONTRIBUTION_BASE), BusinessCategory.BASE_DECLARATION
    ),
    **dict.fromkeys(
        (BusinessType.BOOK_APPOINTMENT, BusinessType.CANCEL_APPOINTMENT, BusinessType.CHECK_IN_APPOINTMENT),
        BusinessCategory.APPOINTMENT,
    ),
    **dict.fromkeys((BusinessType.UPDATE_PERSONAL_INFO, BusinessType.APPLY_MEDICAL_CARD), BusinessCategory.INFORMATION),
}


class TransactionStatus(str, Enum):
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class ServiceChannel(str, Enum):
    """Where a business was done: online by the actor, or at a counter/kiosk by staff."""

    ONLINE = "ONLINE"
    COUNTER = "COUNTER"


class CardApplicationStatus(str, Enum):
    PHOTO_PENDING = "PHOTO_PENDING"
    PHOTO_ACCEPTED = "PHOTO_ACCEPTED"
    PHOTO_REJECTED = "PHOTO_REJECTED"
    COMPLETED = "COMPLETED"
    EXPIRED = "EXPIRED"


class AppointmentStatus(str, Enum):
    BOOKED = "BOOKED"
    CANCELLED = "CANCELLED"
    CHECKED_IN = "CHECKED_IN"


class Role(str, Enum):
    PERSON = "PERSON"
    EMPLOYER_AGENT = "EMPLOYER_AGENT"
    CLERK = "CLERK"
    REVIEWER = "REVIEWER"
    BANK = "BANK"
    ANALYST = "ANALYST"
    ADMIN = "ADMIN"


class JobKind(str, Enum):
    MONTH_END = "MONTH_END"
    REPRICE_YEAR = "REPRICE_YEAR"
    RECALCULATE_ARREARS = "RECALCULATE_ARREARS"
    CARD_PHOTO = "CARD_PHOTO"
    REFRESH_STATISTICS = "REFRESH_STATISTICS"


class JobStatus(str, Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class AuditOutcome(str, Enum):
    ALLOWED = "ALLOWED"
    REFUSED = "REFUSED"
    FAILED = "FAILED"


class ParameterCode(str, Enum):
    """Effective-dated parameters (rules P1-P7); the value is decimal unless said otherwise."""

    AVERAGE_MONTHLY_WAGE = "AVERAGE_MONTHLY_WAGE"  # P1, per contribution year, yuan
    FLEX_PENSION_RATE = "FLEX_PENSION_RATE"  # P2
    FLEX_PENSION_GRADE_MIN = "FLEX_PENSION_GRADE_MIN"  # P2
    FLEX_PENSION_GRADE_MAX = "FLEX_PENSION_GRADE_MAX"  # P2
    FLEX_PENSION_GRADE_STEP = "FLEX_PENSION_GRADE_STEP"  # P2
    FLEX_MEDICAL_RATE = "FLEX_MEDICAL_RATE"  # P3
    FLEX_MEDICAL_TOP_UP = "FLEX_MEDICAL_TOP_UP"  # P3, yuan a month
    EMPLOYER_BASE_FLOOR = "EMPLOYER_BASE_FLOOR"  # P4, share of the average wage
    EMPLOYER_BASE_CEILING = "EMPLOYER_BASE_CEILING"  # P4
    PENSION_RATE_EMPLOYER = "PENSION_RATE_EMPLOYER"  # P4
    PENSION_RATE_PERSON = "PENSION_RATE_PERSON"
    MEDICAL_RATE_EMPLOYER = "MEDICAL_RATE_EMPLOYER"
    MEDICAL_RATE_PERSON = "MEDICAL_RATE_PERSON"
    UNEMPLOYMENT_RATE_EMPLOYER = "UNEMPLOYMENT_RATE_EMPLOYER"
    UNEMPLOYMENT_RATE_PERSON = "UNEMPLOYMENT_RATE_PERSON"
    WORK_INJURY_RATE_EMPLOYER = "WORK_INJURY_RATE_EMPLOYER"
    MATERNITY_RATE_EMPLOYER = "MATERNITY_RATE_EMPLOYER"
    BACK_PAY_INTEREST_RATE = "BACK_PAY_INTEREST_RATE"  # P5, a year
    CARD_PHOTO_STANDARD = "CARD_PHOTO_STANDARD"  # P7, a JSON object
