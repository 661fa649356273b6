"""The domain's vocabularies exposed as GraphQL enums."""

import strawberry

from domain import enums

Gender = strawberry.enum(enums.Gender, description="Gender as on the ID card (A1: odd sequence = male).")
PersonCategory = strawberry.enum(enums.PersonCategory, description="How a person is insured now.")
RetirementClass = strawberry.enum(
    enums.RetirementClass, description="Archive job class; sets a woman's retirement age (Q3)."
)
InsuranceType = strawberry.enum(enums.InsuranceType, description="The five insurance types.")
Channel = strawberry.enum(enums.Channel, description="Paid by the person (flexible employment) or by an employer.")
PolicyStatus = strawberry.enum(enums.PolicyStatus, description="State of a policy.")
EmploymentStatus = strawberry.enum(enums.EmploymentStatus, description="State of an employment.")
EmployerStatus = strawberry.enum(enums.EmployerStatus, description="State of an employer.")
PeriodStatus = strawberry.enum(enums.PeriodStatus, description="State of a month's contribution.")
PaidVia = strawberry.enum(enums.PaidVia, description="How a month was paid.")
ArrearStatus = strawberry.enum(enums.ArrearStatus, description="State of an arrear.")
LedgerKind = strawberry.enum(enums.LedgerKind, description="Kind of passbook movement.")
BusinessCategory = strawberry.enum(enums.BusinessCategory, description="The five categories of business.")
BusinessType = strawberry.enum(enums.BusinessType, description="One value per business type of the hall.")
TransactionStatus = strawberry.enum(enums.TransactionStatus, description="State of a business transaction.")
ServiceChannel = strawberry.enum(enums.ServiceChannel, description="Done online, or at a counter or kiosk by staff.")
ParameterCode = strawberry.enum(enums.ParameterCode, description="Effective-dated parameters (P1-P7).")
JobKind = strawberry.enum(enums.JobKind, description="Kinds of background work.")
JobStatus = strawberry.enum(enums.JobStatus, description="State of a job.")
Role = strawberry.enum(enums.Role, description="The actors of the hall (A3-A6).")
AuditOutcome = strawberry.enum(enums.AuditOutcome, description="How an audited mutation ended.")
PaymentOrderKind = strawberry.enum(
    enums.PaymentOrderKind, description="What a payment order pays: arrears (F6) or interrupted pension months (F8)."
)
PaymentOrderStatus = strawberry.enum(enums.PaymentOrderStatus, description="State of a payment order.")
CardApplicationStatus = strawberry.enum(
    enums.CardApplicationStatus, description="State of a medical-card application (F2, P7)."
)
AppointmentStatus = strawberry.enum(
    enums.AppointmentStatus, description="State of an appointment at a district office (Q1)."
)
