from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from atmr.api import CompanyApiView
from atmr.chat.models import ChatMessage
from atmr.chat.selectors import chat_message_list
from atmr.chat.serializers import ChatMessageListInputSerializer, ChatMessageOutputSerializer
from atmr.permissions import EVERYONE


class ChatMessageListApi(CompanyApiView):
    """The team chat's history, newest first (a driver: the team's messages and those sent to
    it). Page back with `before=<next_before>`."""

    queryset = ChatMessage.objects.none()
    serializer_class = ChatMessageOutputSerializer
    read_roles = EVERYONE

    @extend_schema(
        parameters=[
            OpenApiParameter("before", str, description="ISO 8601; only older messages."),
            OpenApiParameter("limit", int, description="1 to 200, default 50."),
        ],
        responses=inline_serializer(
            "ChatMessagePage",
            {
                "results": ChatMessageOutputSerializer(many=True),
                "next_before": serializers.DateTimeField(allow_null=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        """The team chat's history, newest first. Page back with `before=<next_before>`."""
        params = ChatMessageListInputSerializer(
            data=request.query_params, context=self.get_serializer_context()
        )
        params.is_valid(raise_exception=True)
        limit = params.validated_data["limit"]
        messages = list(
            chat_message_list(
                company_id=self.company_id,
                before=params.validated_data.get("before"),
                limit=limit,
                driver_id=self.driver_id,
            )
        )
        next_before = messages[-1].created_at.isoformat() if len(messages) == limit else None
        results = ChatMessageOutputSerializer(messages, many=True).data
        return Response({"results": results, "next_before": next_before})
