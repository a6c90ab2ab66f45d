"""Which calls only a volunteer node may make."""

from rest_framework.permissions import BasePermission

from alexandria.jobs.models import WorkerNode


class IsWorkerNode(BasePermission):
    message = "Only a registered volunteer node may call this."

    def has_permission(self, request, view):
        return isinstance(request.auth, WorkerNode)
