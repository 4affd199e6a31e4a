from __future__ import annotations

from rest_framework import serializers

from atmr.chat.models import ChatMessage
from atmr.fields import CompanyDateTimeField
from realtime.schemas import ChatSender

MAX_PAGE = 200


class ChatMessageListInputSerializer(serializers.Serializer):
    before = CompanyDateTimeField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, default=50)


class ChatSenderSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    email = serializers.CharField()
    role = serializers.CharField()


class ChatMessageOutputSerializer(serializers.ModelSerializer):
    """The same shape as the `message` of a live `chat_message` event."""

    id = serializers.CharField()
    sender = serializers.SerializerMethodField()
    to_driver = serializers.UUIDField(
        source="to_driver_id",
        allow_null=True,
        help_text="The driver a message from the office was sent to; null for the team.",
    )

    class Meta:
        model = ChatMessage
        fields = ["id", "sender", "text", "created_at", "to_driver"]

    def get_sender(self, obj: ChatMessage) -> ChatSender:
        if obj.sender is None:
            return {"id": None, "email": "", "role": ""}
        return {"id": str(obj.sender.id), "email": obj.sender.email, "role": obj.sender.role}
