from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from spendflo import health, views
from spendflo.users import views as user_views
from spendflo.users.permissions import public

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", public(health.healthz), name="healthz"),
    path("readyz", public(health.readyz), name="readyz"),
    path("accounts/login/", public(user_views.SignInView.as_view()), name="login"),
    path("accounts/logout/", public(auth_views.LogoutView.as_view()), name="logout"),
    path(
        "accounts/password-reset/",
        public(user_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        public(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        public(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        public(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    path("settings/users/", include("spendflo.users.urls")),
    path(
        "settings/organization/",
        user_views.OrganizationSettingsView.as_view(),
        name="organization_settings",
    ),
    path("settings/integrations/coupa/", include("coupa.web.urls")),
    path("settings/integrations/", include("integrations.urls")),
    path("settings/workflows/", include("spendflo.workflows.settings_urls")),
    path("requests/", include("spendflo.workflows.urls")),
    path("api/v1/", include("spendflo.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Redoc was dropped (its sidebar always loads a logo from cdn.redoc.ly); old links land here.
    path("api/redoc/", public(RedirectView.as_view(pattern_name="api-docs", permanent=True))),
    path("admin/", admin.site.urls),
]

handler403 = "spendflo.views.permission_denied"
handler404 = "spendflo.views.page_not_found"
handler500 = "spendflo.views.server_error"
