"""Heavy work run by the job layer (docs/api.md 5)."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import JobKind, JobStatus
from models.base import check, enum_check, enum_field


class Job(Model):
    id = fields.UUIDField(primary_key=True)
    kind = enum_field(JobKind)
    status = enum_field(JobStatus, default=JobStatus.QUEUED)
    dedupe_key = fields.CharField(
        max_length=128, null=True, unique=True, description="set where a double start must be impossible"
    )
    params = fields.JSONField(default=dict)
    progress = fields.FloatField(default=0)
    result = fields.JSONField(null=True)
    error = fields.TextField(null=True)
    attempts = fields.IntField(default=0)
    created_by = fields.ForeignKeyField("models.Account", related_name="jobs", null=True, on_delete=fields.RESTRICT)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    heartbeat_at = fields.DatetimeField(null=True, description="last sign of life of the running attempt")
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "job"
        indexes = (("status", "created_at"),)  # the sweep and /readyz look for the waiting jobs
        constraints = (
            enum_check("job", "kind", JobKind),
            enum_check("job", "status", JobStatus),
            check("job", "progress_range", "progress >= 0 AND progress <= 1"),
        )
