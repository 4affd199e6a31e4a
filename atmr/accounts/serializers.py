from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from rest_framework import serializers

from atmr.accounts.backends import COMPANY_INACTIVE
from atmr.accounts.models import Company
from atmr.accounts.tokens import refresh_token_for, user_check_may_sign_in
from atmr.exceptions import Unauthorized


class LoginUserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.CharField()
    company = serializers.UUIDField(source="company_id")
    driver_id = serializers.UUIDField(
        allow_null=True, help_text="The driver record of a driver log-in; null for the office."
    )


class LoginInputSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class LoginOutputSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    user = LoginUserSerializer()


def login(*, request: Any, email: str, password: str) -> dict[str, Any]:
    user = authenticate(request, email=email.strip().lower(), password=password)
    if user is None or not user.is_active:
        if getattr(request, "auth_refusal", None) == COMPANY_INACTIVE:
            raise Unauthorized("This company's account is suspended.", code=COMPANY_INACTIVE)
        raise Unauthorized("E-mail or password is wrong.", code="bad_credentials")
    user_check_may_sign_in(user)
    refresh = refresh_token_for(user)
    claims = refresh.payload
    identity = {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "company_id": user.company_id,
        "driver_id": claims["driver_id"],
    }
    return {"access": str(refresh.access_token), "refresh": str(refresh), "user": identity}


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class RefreshOutputSerializer(serializers.Serializer):
    access = serializers.CharField()


class CompanyOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Company
        fields = [
            "id",
            "name",
            "address",
            "lat",
            "lon",
            "phone",
            "timezone",
            "active",
            "window_before_minutes",
            "window_after_minutes",
            "will_call_window_minutes",
            "cancel_notice_hours",
            "late_margin_minutes",
            "no_show_wait_minutes",
        ]
