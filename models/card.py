"""Medical-card applications (制卡申请) opened by medical enrollment (F2, P7)."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import CardApplicationStatus
from models.base import enum_check, enum_field


class MedicalCardApplication(Model):
    id = fields.BigIntField(primary_key=True)
    person = fields.ForeignKeyField("models.Person", related_name="card_applications", on_delete=fields.RESTRICT)
    transaction = fields.ForeignKeyField(
        "models.BusinessTransaction", related_name="card_applications", null=True, on_delete=fields.RESTRICT
    )
    status = enum_field(CardApplicationStatus, default=CardApplicationStatus.PHOTO_PENDING)
    original_photo = fields.CharField(max_length=255, null=True, description="stored path of the upload")
    card_photo = fields.CharField(max_length=255, null=True, description="stored path of the normalised photo")
    rejection_reason = fields.CharField(max_length=255, null=True)
    visit_deadline = fields.DateField(description="visit the district office by this day (F2, M3)")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "medical_card_application"
        constraints = (enum_check("medical_card_application", "status", CardApplicationStatus),)
