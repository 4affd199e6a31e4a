"""The dispatch board page, and the token it reads the API and the socket with.

The page is a shell (a template with the company, its zone and the map's tiles); everything
on it comes from the public API and the company socket (board/static/board/), authenticated
with the token `board_token` hands to the signed-in staff member.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from atmr.accounts.models import Company, User
from atmr.admin_scoping import company_staff
from atmr.exceptions import DomainError, Unauthorized
from board.services import board_company, board_token_issue


def _board_user(request: HttpRequest) -> User:
    """Company staff (office role, back-office access) or a superuser; else PermissionDenied."""
    user = request.user
    if isinstance(user, User) and user.is_active and user.is_superuser:
        return user
    staff = company_staff(request)
    if staff is None:
        raise PermissionDenied
    return staff


def _day(value: str | None, company: Company) -> date:
    """`?date=` when a valid YYYY-MM-DD, else today in the company's zone."""
    if value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    return timezone.now().astimezone(company.tz).date()


@require_GET
@never_cache
def board_page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), "/admin/login/")
    user = _board_user(request)
    try:
        company = board_company(user=user, company_id=request.GET.get("company"))
    except Unauthorized as exc:  # staff of a suspended company
        raise PermissionDenied(str(exc.detail)) from exc
    except DomainError:
        companies = Company.objects.filter(active=True).order_by("name").only("id", "name")
        return render(request, "board/pick_company.html", {"companies": companies})
    context = {
        "company": company,
        "picked": user.company_id != company.id,
        "day": _day(request.GET.get("date"), company).isoformat(),
        "tiles": settings.MAP_TILES_URL,
        "attribution": settings.MAP_TILES_ATTRIBUTION,
    }
    return render(request, "board/board.html", context)


@require_POST
@never_cache
def board_token(request: HttpRequest) -> JsonResponse:
    """POST (session + CSRF): `{access, expires_at, company_id}` for the API and the socket;
    a superuser names the company in `company`. 401 without a session, 403 for others."""
    if not request.user.is_authenticated:
        return JsonResponse({"code": "not_authenticated", "detail": "Log in."}, status=401)
    try:
        user = _board_user(request)
    except PermissionDenied:
        return JsonResponse(
            {"code": "permission_denied", "detail": "Company staff only."}, status=403
        )
    try:
        company = board_company(user=user, company_id=request.POST.get("company"))
    except Unauthorized as exc:
        return JsonResponse({"code": "company_inactive", "detail": str(exc.detail)}, status=403)
    except DomainError as exc:
        body = {"code": exc.code, "detail": exc.detail, "field": exc.field}
        return JsonResponse(body, status=exc.http_status)
    return JsonResponse(board_token_issue(user=user, company=company))
