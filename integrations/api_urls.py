from django.urls import include, path
from rest_framework.routers import DefaultRouter

from coupa import api as coupa_api
from coupa import api_data
from coupa.api_data import PICKABLE_SERIALIZERS, SERIALIZERS
from integrations.api import AuditEventViewSet

router = DefaultRouter(trailing_slash=False)
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("integrations/coupa", coupa_api.CoupaConnectionView.as_view(), name="coupa-connection"),
    path("integrations/coupa/connect", coupa_api.CoupaConnectView.as_view(), name="coupa-connect"),
    path("integrations/coupa/validate", coupa_api.CoupaValidateView.as_view(), name="coupa-validate"),
    path(
        "integrations/coupa/disconnect",
        coupa_api.CoupaDisconnectView.as_view(),
        name="coupa-disconnect",
    ),
    path(
        "integrations/coupa/validations/<int:pk>",
        coupa_api.CoupaValidationView.as_view(),
        name="coupa-validation",
    ),
    path("coupa/charts", api_data.ChartsView.as_view(), name="coupa-charts"),
    path("coupa/sync", api_data.SyncView.as_view(), name="coupa-sync"),
    path("coupa/sync-runs", api_data.SyncRunList.as_view(), name="coupa-sync-runs"),
    path("coupa/sync-runs/<int:pk>", api_data.SyncRunDetail.as_view(), name="coupa-sync-run"),
    path("coupa/sync-runs/<int:pk>/cancel", api_data.SyncRunCancel.as_view(), name="coupa-sync-cancel"),
    path("", include(router.urls)),
]

for _kind in SERIALIZERS:
    urlpatterns.append(
        path(f"coupa/{_kind}", api_data.record_list_view(_kind).as_view(), name=f"coupa-{_kind}")
    )
for _kind in PICKABLE_SERIALIZERS:
    _single, _bulk = api_data.visibility_views(_kind)
    urlpatterns += [
        path(f"coupa/{_kind}/<int:pk>", _single.as_view(), name=f"coupa-{_kind}-visibility"),
        path(f"coupa/{_kind}/bulk-visibility", _bulk.as_view(), name=f"coupa-{_kind}-bulk"),
        path(f"pickable/{_kind}", api_data.pickable_view(_kind).as_view(), name=f"pickable-{_kind}"),
    ]
