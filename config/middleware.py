from collections.abc import Callable
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext


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


# Charsets a form or JSON body may declare. Browsers post our forms in UTF-8 (the pages are UTF-8);
# anything else is a client we do not support, refused before any view or the debug page reads it.
ACCEPTED_BODY_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
FORM_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class RequestBodyGuardMiddleware:
    """Bad request bodies get a clear 4xx before any view runs, in every settings mode.

    A form body in another charset, a malformed multipart body, too many fields or too large a body make
    Django raise while the body is parsed. With DEBUG on (as `make run` sets it) the technical error
    page then reads the body again and fails itself, so the user got a bare 500. Parsing form bodies
    here, once, turns each of these into a 400 (413 for a body that is too large) with our own error
    page, or a JSON `detail` under /api/, and nothing downstream runs. JSON bodies are parsed by the
    API's parser (config/parsers.py), which has the same rules.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        return self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponseBase | None:
        content_type = request.content_type or ""
        charset = (request.content_params or {}).get("charset", "").strip().lower()
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and _content_length(request) > limit:
            return bad_request(request, gettext("The request is too large."), status=413)
        if charset and charset not in ACCEPTED_BODY_CHARSETS and _has_body(request):
            return bad_request(request, gettext("Send the request body as UTF-8."), status=415)
        if (
            not request.path.startswith("/api/")
            and content_type not in FORM_CONTENT_TYPES
            and _has_body(request)
        ):
            # Pages and the admin take form posts only; a JSON or text body is not for them.
            return bad_request(request, gettext("This address accepts form data only."), status=415)
        if content_type in FORM_CONTENT_TYPES and request.method not in ("GET", "HEAD", "OPTIONS"):
            try:
                if content_type == "application/x-www-form-urlencoded" and not _is_utf8_form(request.body):
                    return bad_request(request, gettext("The form data is not valid UTF-8."), status=400)
                request.POST  # noqa: B018 (parse once, here, where failures can be answered cleanly)
            except RequestDataTooBig:
                return bad_request(request, gettext("The request is too large."), status=413)
            except (BadRequest, SuspiciousOperation, MultiPartParserError, UnicodeDecodeError, ValueError):
                return bad_request(request, gettext("The form data could not be read."), status=400)
        return None


def _is_utf8_form(body: bytes) -> bool:
    """Whether every name and value decodes as UTF-8. Django would replace broken bytes (a lone
    surrogate encoded, a Latin-1 "æ") with U+FFFD and store the replacement characters as text."""
    try:
        parse_qsl(body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def _content_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _has_body(request: HttpRequest) -> bool:
    return _content_length(request) > 0 or "HTTP_TRANSFER_ENCODING" in request.META


def bad_request(request: HttpRequest, message: str, *, status: int = 400) -> HttpResponse:
    """A 4xx answer for input refused at the edge: JSON under /api/, else the plain 400 page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    return render(request, "400.html", {"message": message}, status=status)
