"""District offices, their time slots, and bookings (rule Q1)."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import AppointmentStatus, BusinessCategory
from models.base import check, enum_check, enum_field


class Office(Model):
    id = fields.IntField(primary_key=True)
    district = fields.ForeignKeyField("models.District", related_name="offices", on_delete=fields.RESTRICT)
    name = fields.CharField(max_length=128)
    address = fields.CharField(max_length=200)

    class Meta:
        table = "office"


class AppointmentSlot(Model):
    id = fields.BigIntField(primary_key=True)
    office = fields.ForeignKeyField("models.Office", related_name="slots", on_delete=fields.RESTRICT)
    business_category = enum_field(BusinessCategory)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    capacity = fields.IntField()
    booked = fields.IntField(default=0)

    class Meta:
        table = "appointment_slot"
        unique_together = (("office", "business_category", "starts_at"),)
        constraints = (
            enum_check("appointment_slot", "business_category", BusinessCategory),
            check("appointment_slot", "capacity_kept", "booked >= 0 AND booked <= capacity"),
            check("appointment_slot", "ends_after_start", "ends_at > starts_at"),
        )


class Appointment(Model):
    id = fields.BigIntField(primary_key=True)
    slot = fields.ForeignKeyField("models.AppointmentSlot", related_name="appointments", on_delete=fields.RESTRICT)
    account = fields.ForeignKeyField("models.Account", related_name="appointments", on_delete=fields.RESTRICT)
    person = fields.ForeignKeyField("models.Person", related_name="appointments", null=True, on_delete=fields.RESTRICT)
    employer = fields.ForeignKeyField(
        "models.Employer", related_name="appointments", null=True, on_delete=fields.RESTRICT
    )
    transaction = fields.ForeignKeyField(
        "models.BusinessTransaction", related_name="appointments", null=True, on_delete=fields.RESTRICT
    )
    status = enum_field(AppointmentStatus, default=AppointmentStatus.BOOKED)
    booked_at = fields.DatetimeField(auto_now_add=True)
    cancelled_at = fields.DatetimeField(null=True)
    checked_in_at = fields.DatetimeField(null=True)

    class Meta:
        table = "appointment"
        constraints = (
            enum_check("appointment", "status", AppointmentStatus),
            check("appointment", "one_subject", "(person_id IS NULL) <> (employer_id IS NULL)"),
        )
