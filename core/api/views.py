from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.serializers import MeSerializer


class MeView(APIView):
    """Who the caller is: roles and effective permissions (any authenticated caller)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer, tags=["account"])
    def get(self, request):
        return Response(MeSerializer(request.user).data)
