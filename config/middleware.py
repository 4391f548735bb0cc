from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.cache import add_never_cache_headers


class DanishFirstLocaleMiddleware(LocaleMiddleware):
    """Danish unless the user has chosen another language with the switch (the language cookie).

    The browser's Accept-Language is not consulted: a shared ward PC or a headless browser set to
    English still shows the Danish interface, as the product promises.
    """

    def process_request(self, request: HttpRequest) -> None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        code = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(code)
        request.LANGUAGE_CODE = translation.get_language()


class NoStoreByDefaultMiddleware:
    """`Cache-Control: no-store` on every response that does not say otherwise.

    Patient data is on pages, in API answers and in the admin; a browser or proxy must not keep a copy on
    a shared ward PC. The pages already use never_cache, but DRF views and a view someone forgets to
    decorate are covered here too. A view that wants caching sets its own Cache-Control. Static files
    are served by WhiteNoise before this middleware and keep their own headers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
