"""Test data builders. Only these helpers switch the workspace scope on for setup,
so application code under test still fails when it forgets its own scope."""

from __future__ import annotations

import itertools
from typing import Any

from allauth.account.models import EmailAddress

from accounts.models import Breeder, Membership, User, Workspace
from accounts.roles import Role
from accounts.scope import workspace_scope

PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


def make_user(email: str | None = None, *, verified: bool = True, **fields: Any) -> User:
    email = email or f"user{next(_counter)}@example.com"
    user = User.objects.create_user(email=email, password=PASSWORD, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


def make_workspace(slug: str | None = None, **fields: Any) -> Workspace:
    slug = slug or f"ws-{next(_counter)}"
    fields.setdefault("name", slug.replace("-", " ").title())
    return Workspace.objects.create(slug=slug, **fields)


def make_membership(workspace: Workspace, user: User, role: str = Role.CSM) -> Membership:
    with workspace_scope(workspace):
        return Membership.objects.create(workspace=workspace, user=user, role=role)


def make_breeder(workspace: Workspace, **fields: Any) -> Breeder:
    number = next(_counter)
    fields.setdefault("external_id", f"user-{number}")
    fields.setdefault("name", f"Breeder {number}")
    fields.setdefault("email", f"breeder{number}@example.com")
    with workspace_scope(workspace):
        return Breeder.objects.create(workspace=workspace, **fields)
