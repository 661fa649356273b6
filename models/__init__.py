"""Tortoise models, one module per aggregate. Importing this package registers them all."""

from models.account import Account, AccountSession, Certificate, LoginThrottle
from models.appointment import Appointment, AppointmentSlot, Office
from models.arrear import Arrear, PaymentOrder, PaymentOrderLine
from models.audit import AuditEvent
from models.card import MedicalCardApplication
from models.employer import Employer, Employment
from models.job import Job
from models.parameter import Parameter
from models.passbook import LedgerEntry, Passbook
from models.period import ContributionPeriod
from models.person import Person
from models.policy import Policy
from models.region import Community, District
from models.statistics import BusinessVolumeRollup, EnrollmentRollup, OnlineAdoptionRollup, RollupMonth
from models.transaction import BusinessTransaction, IdempotencyRecord

__models__ = [
    District,
    Community,
    Person,
    Employer,
    Employment,
    Policy,
    ContributionPeriod,
    Arrear,
    PaymentOrder,
    PaymentOrderLine,
    Passbook,
    LedgerEntry,
    BusinessTransaction,
    IdempotencyRecord,
    MedicalCardApplication,
    Office,
    AppointmentSlot,
    Appointment,
    Account,
    Certificate,
    AccountSession,
    LoginThrottle,
    Job,
    AuditEvent,
    Parameter,
    RollupMonth,
    EnrollmentRollup,
    BusinessVolumeRollup,
    OnlineAdoptionRollup,
]
