"""Canned replies API: list, create, read, update, delete, with the scope rules of
`messaging.inbox.canned` (a reply outside the caller's scope is 404 to read and 403 to
write)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging.inbox.canned import canned_replies_visible, canned_reply_delete, canned_reply_save
from messaging.inbox.models import SHORTCUT_RE, CannedReply, Team

VIEW = ["messaging.view_cannedreply"]


class CannedReplySerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True, help_text="null: for everyone."
    )
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = CannedReply
        fields = ["id", "shortcut", "title", "body", "team", "created_by", "created_at",
                  "updated_at"]  # fmt: skip
        read_only_fields = fields


class CannedReplyInputSerializer(serializers.Serializer):
    shortcut = serializers.RegexField(SHORTCUT_RE, max_length=40)
    title = serializers.CharField(max_length=100)
    body = serializers.CharField(max_length=4096)
    team = serializers.SlugRelatedField(
        slug_field="name", queryset=Team.objects.all(), allow_null=True, required=False,
        help_text="The team's name; null or absent: for everyone (needs "
        "messaging.manage_cannedreply).",
    )  # fmt: skip


class CannedReplyListView(generics.ListAPIView):
    """The canned replies the caller may see: the global ones and their teams' (every team's
    with `messaging.manage_cannedreply`); POST creates one."""

    serializer_class = CannedReplySerializer
    required_permissions = {"GET": VIEW, "HEAD": VIEW, "POST": [*VIEW, "messaging.add_cannedreply"]}
    filter_backends: list = []

    def get_queryset(self):
        replies = canned_replies_visible(self.request.user)
        team = self.request.query_params.get("team")
        if team == "global":
            replies = replies.filter(team__isnull=True)
        elif team:
            replies = replies.filter(team__name=team)
        return replies

    @extend_schema(
        parameters=[
            OpenApiParameter("team", str, description='A team\'s name, or "global".'),
        ],
        tags=["inbox"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=CannedReplyInputSerializer, responses={201: CannedReplySerializer}, tags=["inbox"]
    )
    def post(self, request, *args, **kwargs):
        serializer = CannedReplyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reply = canned_reply_save(
            user=request.user, team=data.get("team"), shortcut=data["shortcut"],
            title=data["title"], body=data["body"],
        )  # fmt: skip
        return Response(CannedReplySerializer(reply).data, status=status.HTTP_201_CREATED)


class CannedReplyDetailView(APIView):
    required_permissions = {
        "GET": VIEW,
        "HEAD": VIEW,
        "PUT": [*VIEW, "messaging.change_cannedreply"],
        "PATCH": [*VIEW, "messaging.change_cannedreply"],
        "DELETE": [*VIEW, "messaging.delete_cannedreply"],
    }

    def _reply(self, request, pk) -> CannedReply:
        return get_object_or_404(canned_replies_visible(request.user), pk=pk)

    @extend_schema(responses=CannedReplySerializer, tags=["inbox"])
    def get(self, request, pk):
        return Response(CannedReplySerializer(self._reply(request, pk)).data)

    def _update(self, request, pk, *, partial: bool):
        reply = self._reply(request, pk)
        serializer = CannedReplyInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reply = canned_reply_save(
            user=request.user, reply=reply, team=data.get("team", reply.team),
            shortcut=data.get("shortcut", reply.shortcut), title=data.get("title", reply.title),
            body=data.get("body", reply.body),
        )  # fmt: skip
        return Response(CannedReplySerializer(reply).data)

    @extend_schema(
        request=CannedReplyInputSerializer, responses=CannedReplySerializer, tags=["inbox"]
    )
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(
        request=CannedReplyInputSerializer, responses=CannedReplySerializer, tags=["inbox"]
    )
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None}, tags=["inbox"])
    def delete(self, request, pk):
        canned_reply_delete(user=request.user, reply=self._reply(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
