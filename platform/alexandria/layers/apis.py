from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from alexandria.contributors.permissions import IsMember
from alexandria.layers.selectors import layer_progress, max_layers
from alexandria.layers.serializers import LayersSerializer


class LayerListApi(APIView):
    """Progress of every layer: items, merges, outstanding jobs and the layer build."""

    permission_classes = [IsMember]

    @extend_schema(responses={200: LayersSerializer})
    def get(self, request):
        body = {"max_layers": max_layers(), "layers": layer_progress()}
        return Response(LayersSerializer(body).data)
