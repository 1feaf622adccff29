"""The alert outbox (workspace admins): every failure and recovery alert, how it went out, and
the e-mails kept here because no mail server is configured."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from planport.services.imports.runs import alerting
from planport.web import auth
from planport.web.auth import Caller
from planport.web.formatting import when
from planport.web.templating import render

router = APIRouter(dependencies=[Depends(auth.csrf_protect)])


@router.get("/alerts")
def alert_outbox(
    caller: Caller = auth.CallerDep,
) -> Response:
    """Newest first; PermissionDenied (403) for members who are not workspace admins."""
    entries = alerting.outbox(caller.db, caller.actor)
    smtp = auth.get_settings(caller.request).smtp_host is not None
    context = {"entries": entries, "smtp_configured": smtp, "when": when(caller.actor)}
    return render(caller.request, "alerts.html", context)
