from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from rest_framework import serializers

from atmr.accounts.models import Company
from atmr.accounts.tokens import refresh_token_for
from atmr.exceptions import Unauthorized


class LoginUserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.CharField()
    company = serializers.UUIDField(source="company_id")


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
        raise Unauthorized("E-mail or password is wrong.", code="bad_credentials")
    if user.company_id is None:
        raise Unauthorized("This account belongs to no company.", code="no_company")
    refresh = refresh_token_for(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh), "user": user}


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField()


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
        ]
