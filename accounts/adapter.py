from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

PENDING_INVITATION_SESSION_KEY = "pending_invitation_token"


class StaffAccountAdapter(DefaultAccountAdapter):
    """Sign-up is open only to people who follow an invitation link.

    Workspaces and their first owners are created by operators; everyone else joins
    through an invitation, whose link puts its token in the session.
    """

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return bool(request.session.get(PENDING_INVITATION_SESSION_KEY))
