from django.urls import URLPattern, path  # noqa: F401

app_name = "relatives"
urlpatterns: list[URLPattern] = [
    # --- consent ---
    # --- support ---
    # --- children ---
]
