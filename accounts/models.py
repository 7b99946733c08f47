import uuid
import zoneinfo
from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce, Lower, NullIf
from django.utils import timezone

from accounts.roles import Permission, Role, role_has_permission
from accounts.scope import WorkspaceScopedManager


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not an IANA time zone name; use a name such as Europe/Berlin.",
            params={"value": value},
        )


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: object) -> "User":
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> "User":
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A staff member. One user may belong to several workspaces.

    `is_superuser` marks platform operators, who see every workspace in the admin.
    Workspace admins reach the admin through their membership role instead.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Platform operator access to the admin of every workspace."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email.split("@")[0]


class Workspace(models.Model):
    """The tenant: one company's customer-success team."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Default IANA time zone for breeders who have none.",
    )
    sender_name = models.CharField(max_length=200, blank=True)
    sender_email = models.EmailField(blank=True)
    require_mfa = models.BooleanField(
        default=False, help_text="Members must set up an authenticator app before using it."
    )
    settings = models.JSONField(
        default=dict, blank=True, help_text="Workspace-level options, such as send windows."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @property
    def from_address(self) -> str:
        if self.sender_email:
            name = self.sender_name or self.name
            return f"{name} <{self.sender_email}>"
        return ""


class WorkspaceOwned(models.Model):
    """Base of every tenant model: a workspace foreign key and a scoped default manager."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)

    objects = WorkspaceScopedManager()
    # Deliberately loud: a query through this manager sees every workspace.
    unscoped_objects = models.Manager()  # noqa: DJ012 (a manager, not a field)

    class Meta:
        abstract = True
        # Forward foreign keys (breeder.workspace, alert.breeder) load the row they
        # point at through the base manager, which must not need a scope.
        base_manager_name = "unscoped_objects"


class Membership(WorkspaceOwned):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CSM)
    works_pool = models.BooleanField(
        default=False,
        help_text="Works the digital-success pool: sees alerts of breeders without a CSM.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user"], name="membership_one_per_user_workspace"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}) in {self.workspace_id}"

    def can(self, permission: Permission) -> bool:
        return role_has_permission(self.role, permission)


class Invitation(WorkspaceOwned):
    """An email invitation to join a workspace with a role.

    The link in the email carries a signed, expiring reference to `public_id`, so no
    secret token is stored.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CSM)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            # One open invitation per address and workspace; a new one replaces it.
            models.UniqueConstraint(
                "workspace",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.email} as {self.role}"

    @property
    def is_open(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


class WriteKey(WorkspaceOwned):
    """A key the ReptiDex product uses to send events. Only its SHA-256 hash is stored."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Operation(models.TextChoices):
    HOBBY = "hobby", "Hobby"
    PART_TIME = "part_time", "Part time"
    FULL_TIME = "full_time", "Full time"


class Experience(models.TextChoices):
    NEW = "new", "New"
    EXPERIENCED = "experienced", "Experienced"


class Tier(models.TextChoices):
    ENTERPRISE = "enterprise", "Enterprise"
    PROFESSIONAL = "professional", "Professional"
    HOBBYIST = "hobbyist", "Hobbyist"
    NEW_BREEDER = "new_breeder", "New breeder"


class Breeder(WorkspaceOwned):
    """A customer account: one breeder or breeding business on ReptiDex."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(
        max_length=200, blank=True, help_text="The breeder's user id in the ReptiDex product."
    )
    name = models.CharField(max_length=200, blank=True)
    business_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="IANA time zone; empty means the workspace's.",
    )
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code.")
    species = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    animal_count = models.PositiveIntegerField(default=0, validators=[MinValueValidator(0)])
    operation = models.CharField(max_length=20, choices=Operation.choices, blank=True)
    experience = models.CharField(max_length=20, choices=Experience.choices, blank=True)
    signed_up_at = models.DateTimeField(default=timezone.now)
    plan = models.CharField(max_length=100, blank=True)
    tier = models.CharField(max_length=20, choices=Tier.choices, blank=True)
    assigned_csm = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_breeders"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(WorkspaceOwned.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=~models.Q(external_id=""),
                name="breeder_unique_external_id",
                violation_error_message=(
                    "A breeder with this external id already exists in this workspace; "
                    "edit that breeder instead."
                ),
            ),
        ]
        indexes = [
            # The portfolio page: one CSM's breeders in one workspace.
            models.Index(fields=["workspace", "assigned_csm"], name="breeder_ws_csm_idx"),
            # Matching Stripe customers and CSV rows by email.
            models.Index("workspace", Lower("email"), name="breeder_ws_email_idx"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        # Keep in step with `display_name_key`, which sorts lists by this value.
        return self.business_name or self.name or self.email or self.external_id

    @staticmethod
    def display_name_key() -> Lower:
        """Return `display_name` as an SQL expression, lower-cased for sorting.

        Empty strings become NULL so that Coalesce skips them as `or` does above.
        """
        return Lower(
            Coalesce(
                NullIf("business_name", models.Value("")),
                NullIf("name", models.Value("")),
                NullIf("email", models.Value("")),
                "external_id",
            )
        )

    def effective_time_zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone or self.workspace.time_zone)


class AuditEntry(WorkspaceOwned):
    """A record of a change in a workspace, written by the service that made it."""

    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(WorkspaceOwned.Meta):
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="audit_ws_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type} {self.target_id}"
