from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from atmr.accounts.selectors import company_get
from atmr.accounts.serializers import (
    CompanyOutputSerializer,
    LoginInputSerializer,
    LoginOutputSerializer,
    RefreshInputSerializer,
    RefreshOutputSerializer,
    login,
)
from atmr.accounts.throttles import LoginEmailThrottle, LoginIpThrottle
from atmr.accounts.tokens import tokens_refresh
from atmr.api import CompanyApiView
from atmr.exceptions import Unauthorized
from atmr.permissions import EVERYONE


class LoginApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIpThrottle, LoginEmailThrottle]

    @extend_schema(request=LoginInputSerializer, responses=LoginOutputSerializer)
    def post(self, request: Request) -> Response:
        """Log in with e-mail and password: access and refresh tokens, and who you are."""
        data = LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = login(request=request, **data.validated_data)
        return Response(LoginOutputSerializer(result).data)


class RefreshApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=RefreshInputSerializer, responses=RefreshOutputSerializer)
    def post(self, request: Request) -> Response:
        """A new access token with the user's role, company and driver as they are now."""
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(tokens_refresh(refresh=data.validated_data["refresh"]))


class LogoutApi(APIView):
    """Blacklists the refresh token: it can no longer be refreshed (401)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=RefreshInputSerializer, responses={205: None})
    def post(self, request: Request) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            RefreshToken(data.validated_data["refresh"]).blacklist()
        except TokenError as exc:
            raise Unauthorized(exc.args[0], code="token_not_valid") from exc
        return Response(status=205)


class CompanyMeApi(CompanyApiView):
    """The caller's company, from the cached row without a ModelSerializer (rebuilding its
    fields was about a sixth of this endpoint's profiled time). The serializer documents the
    shape; tests/test_list_performance_contract.py keeps both equal."""

    serializer_class = CompanyOutputSerializer
    read_roles = EVERYONE

    def get(self, request: Request) -> Response:
        """The caller's company: name, address, time zone, booking windows."""
        company = company_get(company_id=self.company_id)
        return Response(
            {name: getattr(company, name) for name in _COMPANY_FIELDS} | {"id": str(company.id)}
        )


# Every CompanyOutputSerializer field is a plain string, number or boolean except the id.
_COMPANY_FIELDS = tuple(CompanyOutputSerializer.Meta.fields)
