from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import healthz
from pathways.signin.views import StaffLoginView

urlpatterns = [
    path("", include("pathways.urls")),
    path("", include("relatives.urls")),
    path("", include("coordination.urls")),
    path("", include("quality.urls")),
    # The portal for patients and relatives: its own namespace, sign-in, session cookie and templates.
    path("portal/", include("portal.urls")),
    path("login/", StaffLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("pathways.api_urls")),
    path("api/v1/", include("coordination.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own (?script), not inline,
    # so the page works under the Content-Security-Policy.
    path(
        "api/docs/",
        # GET only: DRF's OPTIONS answer needs a renderer this HTML view does not have (it gave a 500).
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html", http_method_names=["get", "head"]
        ),
        name="api-docs",
    ),
    # One sign-in for everyone, with throttling and the second step: the admin's own form is not used.
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True), name="admin-sign-in"),
    path("admin/", admin.site.urls),
]

# An address under the portal that matches no page gets the portal's "not found", not the staff one.
handler404 = "config.errors.page_not_found"
