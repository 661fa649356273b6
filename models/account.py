"""Online-service accounts (A3), device certificates (A4), sessions and login throttling."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import Role
from models.base import check, enum_check, enum_field


class Account(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    certificate_password_hash = fields.CharField(max_length=255, null=True)
    role = enum_field(Role)
    person = fields.ForeignKeyField("models.Person", related_name="accounts", null=True, on_delete=fields.RESTRICT)
    employer = fields.ForeignKeyField("models.Employer", related_name="agents", null=True, on_delete=fields.RESTRICT)
    community = fields.ForeignKeyField("models.Community", related_name="clerks", null=True, on_delete=fields.RESTRICT)
    district = fields.ForeignKeyField("models.District", related_name="staff", null=True, on_delete=fields.RESTRICT)
    commitment_signed_at = fields.DatetimeField(null=True, description="the online-service commitment letter (A3)")
    commitment_place = fields.CharField(max_length=128, null=True)
    granted_by = fields.ForeignKeyField("models.Account", related_name="granted", null=True, on_delete=fields.RESTRICT)
    password_changed_at = fields.DatetimeField(null=True)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "account"
        unique_together = (("person",),)  # one account per person (A3); NULLs do not collide
        constraints = (
            enum_check("account", "role", Role),
            check(
                "account",
                "bound_to_subject",
                "(role = 'PERSON') = (person_id IS NOT NULL)"
                " AND (role = 'EMPLOYER_AGENT') = (employer_id IS NOT NULL)"
                " AND (role = 'CLERK') = (community_id IS NOT NULL)",
            ),
        )


class Certificate(Model):
    """A device's installed digital certificate: only the credential's hash is kept."""

    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name="certificates", on_delete=fields.CASCADE)
    credential_hash = fields.CharField(max_length=64, unique=True)
    device_name = fields.CharField(max_length=128)
    installed_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "certificate"
        indexes = (("account_id",),)


class AccountSession(Model):
    """A login. Tokens carry only a random secret, whose hash finds the session."""

    id = fields.BigIntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name="sessions", on_delete=fields.CASCADE)
    certificate = fields.ForeignKeyField(
        "models.Certificate", related_name="sessions", null=True, on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "account_session"
        indexes = (("account_id",), ("certificate_id",))


class LoginThrottle(Model):
    """Failed logins per throttled key: a username or a client address.

    Kept in the database so that every process sees them (services.access.throttle)."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=64, unique=True)  # "user:<username>" or "addr:<client address>"
    failures = fields.IntField(default=0)
    window_started_at = fields.DatetimeField()
    locked_until = fields.DatetimeField(null=True)

    class Meta:
        table = "login_throttle"
