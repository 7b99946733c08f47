from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services
from accounts.access import (
    ACTIVE_WORKSPACE_SESSION_KEY,
    AuthenticatedRequest,
    WorkspaceRequest,
    get_breeder_for_request,
    get_invitation_for_request,
    get_membership_for_request,
    memberships_of,
    require_permission,
    resolve_membership,
    staff_of,
)
from accounts.adapter import PENDING_INVITATION_SESSION_KEY
from accounts.forms import BreederForm, InvitationForm, RoleForm, SecurityForm
from accounts.invitations import invitation_public_id_from_token
from accounts.models import Breeder, Invitation, Membership
from accounts.roles import Permission

BREEDERS_PER_PAGE = 50


@login_required
@require_GET
def home(request: AuthenticatedRequest) -> HttpResponse:
    """Send the user to the workspace they last used, or their first one."""
    memberships = list(memberships_of(request.user))
    if not memberships:
        return render(request, "accounts/no_workspace.html")
    last_id = request.session.get(ACTIVE_WORKSPACE_SESSION_KEY)
    chosen = next((m for m in memberships if m.workspace_id == last_id), memberships[0])
    return redirect("health:portfolio", workspace_slug=chosen.workspace.slug)


@login_required
@require_http_methods(["GET", "POST"])
def switch_workspace(request: AuthenticatedRequest) -> HttpResponse:
    if request.method == "POST":
        membership = resolve_membership(request.user, request.POST.get("slug", ""))
        request.session[ACTIVE_WORKSPACE_SESSION_KEY] = membership.workspace_id
        return redirect("health:portfolio", workspace_slug=membership.workspace.slug)
    return render(
        request, "accounts/switch_workspace.html", {"memberships": memberships_of(request.user)}
    )


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Show an invitation; accept it on POST once the invitee is signed in."""
    public_id = invitation_public_id_from_token(token)
    invitation = None
    if public_id:
        invitation = (
            Invitation.unscoped_objects.select_related("workspace", "invited_by")
            .filter(public_id=public_id)
            .first()
        )
    if invitation is None or not invitation.is_open:
        return render(request, "accounts/invitation_invalid.html", status=404)

    if not request.user.is_authenticated:
        # Sign-up is open only while an invitation is pending, and the invited address
        # counts as verified because the link reached it.
        request.session[PENDING_INVITATION_SESSION_KEY] = token
        get_adapter(request).stash_verified_email(request, invitation.email)
        return render(request, "accounts/invitation.html", {"invitation": invitation})

    if request.method == "POST":
        try:
            membership = services.accept_invitation(invitation, user=request.user)  # type: ignore[arg-type]
        except (PermissionDenied, ValidationError) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
            return render(
                request, "accounts/invitation.html", {"invitation": invitation}, status=403
            )
        request.session.pop(PENDING_INVITATION_SESSION_KEY, None)
        request.session[ACTIVE_WORKSPACE_SESSION_KEY] = membership.workspace_id
        messages.success(request, f"Welcome to {invitation.workspace.name}.")
        return redirect("health:portfolio", workspace_slug=invitation.workspace.slug)
    return render(request, "accounts/invitation.html", {"invitation": invitation})


@require_GET
def members(request: WorkspaceRequest, workspace_slug: str) -> HttpResponse:
    require_permission(request, Permission.VIEW_WORKSPACE)
    return _render_members(request, InvitationForm())


def _render_members(
    request: WorkspaceRequest, form: InvitationForm, status: int = 200
) -> HttpResponse:
    memberships = Membership.objects.select_related("user").order_by("role", "user__email")
    invitations = (
        Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("invited_by")
        .order_by("-created_at")
    )
    return render(
        request,
        "accounts/members.html",
        {
            "memberships": memberships,
            "invitations": invitations,
            "form": form,
            "role_form": RoleForm(),
        },
        status=status,
    )


@require_POST
def invite(request: WorkspaceRequest, workspace_slug: str) -> HttpResponse:
    actor = require_permission(request, Permission.MANAGE_MEMBERS)
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            services.invite_member(
                request.workspace,
                actor_membership=actor,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("accounts:members", workspace_slug=workspace_slug)
    return _render_members(request, form, status=400)


@require_POST
def revoke_invitation(
    request: WorkspaceRequest, workspace_slug: str, public_id: str
) -> HttpResponse:
    actor = require_permission(request, Permission.MANAGE_MEMBERS)
    invitation = get_invitation_for_request(request, public_id)
    services.revoke_invitation(invitation, actor_membership=actor)
    messages.success(request, f"Invitation for {invitation.email} withdrawn.")
    return redirect("accounts:members", workspace_slug=workspace_slug)


@require_POST
def change_role(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    actor = require_permission(request, Permission.MANAGE_MEMBERS)
    membership = get_membership_for_request(request, public_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed roles.")
        return redirect("accounts:members", workspace_slug=workspace_slug)
    try:
        services.change_role(membership, actor_membership=actor, role=form.cleaned_data["role"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"{membership.user.email} is now {membership.get_role_display()}."
        )
    return redirect("accounts:members", workspace_slug=workspace_slug)


@require_POST
def remove_member(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    actor = require_permission(request, Permission.MANAGE_MEMBERS)
    membership = get_membership_for_request(request, public_id)
    try:
        services.remove_member(membership, actor_membership=actor)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{membership.user.email} was removed from the workspace.")
    return redirect("accounts:members", workspace_slug=workspace_slug)


@require_http_methods(["GET", "POST"])
def security(request: WorkspaceRequest, workspace_slug: str) -> HttpResponse:
    require_permission(request, Permission.VIEW_WORKSPACE)
    if request.method == "POST":
        actor = require_permission(request, Permission.MANAGE_SECURITY)
        form = SecurityForm(request.POST)
        if form.is_valid():
            services.set_require_mfa(
                request.workspace,
                actor_membership=actor,
                required=form.cleaned_data["require_mfa"],
            )
            messages.success(request, "Security settings saved.")
            return redirect("accounts:security", workspace_slug=workspace_slug)
    else:
        form = SecurityForm(initial={"require_mfa": request.workspace.require_mfa})
    return render(request, "accounts/security.html", {"form": form})


@require_GET
def breeder_list(request: WorkspaceRequest, workspace_slug: str) -> HttpResponse:
    require_permission(request, Permission.VIEW_WORKSPACE)
    query = request.GET.get("q", "").strip()
    breeders = Breeder.objects.select_related("assigned_csm").order_by(
        Breeder.display_name_key(), "pk"
    )
    if query:
        breeders = breeders.filter(
            Q(name__icontains=query)
            | Q(business_name__icontains=query)
            | Q(email__icontains=query)
            | Q(external_id=query)
        )
    page = Paginator(breeders, BREEDERS_PER_PAGE).get_page(request.GET.get("page"))
    template = "accounts/_breeder_rows.html" if request.htmx else "accounts/breeder_list.html"
    return render(request, template, {"page": page, "query": query})


@require_GET
def breeder_detail(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    require_permission(request, Permission.VIEW_WORKSPACE)
    breeder = get_breeder_for_request(request, public_id)
    return render(request, "accounts/breeder_detail.html", {"breeder": breeder})


@require_http_methods(["GET", "POST"])
def breeder_edit(request: WorkspaceRequest, workspace_slug: str, public_id: str) -> HttpResponse:
    actor = require_permission(request, Permission.EDIT_BREEDERS)
    breeder = get_breeder_for_request(request, public_id)
    can_assign = actor.can(Permission.ASSIGN_BREEDERS)
    staff = staff_of(request.workspace)
    form = BreederForm(request.POST or None, instance=breeder, staff=staff, can_assign=can_assign)
    if request.method == "POST" and form.is_valid():
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        # The form already wrote the values onto the instance; reload before the
        # service applies them, so its audit entry records the real before-values.
        breeder.refresh_from_db()
        services.update_breeder(breeder, actor_membership=actor, changes=changes)
        messages.success(request, f"{breeder.display_name} saved.")
        return redirect(
            reverse(
                "accounts:breeder_detail",
                kwargs={
                    "workspace_slug": workspace_slug,
                    "public_id": breeder.public_id,
                },
            )
        )
    status = 400 if request.method == "POST" else 200
    return render(
        request, "accounts/breeder_edit.html", {"breeder": breeder, "form": form}, status=status
    )


@require_GET
def admin_login(request: HttpRequest) -> HttpResponse:
    """Send the admin's sign-in to allauth; refuse signed-in members without the role."""
    if request.user.is_authenticated:
        raise PermissionDenied(
            "Your role in the current workspace does not include configuration. Switch to a "
            "workspace where you are an owner or admin."
        )
    return redirect_to_login(request.GET.get("next", "/admin/"), settings.LOGIN_URL)
