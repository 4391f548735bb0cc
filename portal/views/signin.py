"""The sign-in's pages: ask for a link, open it (a button: a GET never spends it, as mail scanners fetch
links), type the code, sign out (a GET asks, the button POSTs). The work is in portal.signin; these pages
only show it.

"This link no longer works" is one page with one status (410) whatever the reason — unknown, used,
expired or a wrong token — so a page tells no one which links exist. Only the browser that typed five wrong
codes is told that (same status, its own words). The browser that opened a link and waits for its code
is sent back to the code page when the link is tapped again."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import ngettext

from pathways.audit import RequestOrigin
from pathways.choices import NotificationChannel
from portal import access, signin
from portal.forms import SignInCodeForm, SignInForm
from portal.models import CODE_MINUTES, LINK_MINUTES
from portal.views.base import portal_render, portal_view

GONE = 410
INVALID = 422
SIGNED_OUT = "signed-out"  # the sign-in page's query parameter after signing out


def _gone(request: HttpRequest, *, too_many_codes: bool = False, code_page: bool = False) -> HttpResponse:
    """The one "no longer works" page. On the code page the browser's sign-in cookie goes too (a link
    page leaves it: pressing a used link's button again must not lose the code the first press sent)."""
    response = portal_render(
        request, "portal/sign_in_gone.html", {"too_many_codes": too_many_codes}, status=GONE
    )
    if code_page and signin.SIGN_IN_COOKIE in request.COOKIES:
        response.delete_cookie(signin.SIGN_IN_COOKIE, path=settings.PORTAL_PATH)
    return response


@portal_view(signed_in=False, methods=("GET", "HEAD", "POST"))
def sign_in(request: HttpRequest) -> HttpResponse:
    """Ask for a link. Whoever asks — known, unknown or asking too often — gets the same answer."""
    if request.method == "POST":
        form = SignInForm(request.POST)
        if form.is_valid():
            signin.sign_in_request(address=form.cleaned_data["address"], origin=RequestOrigin.of(request))
            return redirect("portal:sign-in-sent")
        status = INVALID
    else:
        form = SignInForm()
        status = 200
    context = {"form": form, "signed_out": SIGNED_OUT in request.GET, "minutes": LINK_MINUTES}
    return portal_render(request, "portal/sign_in.html", context, status=status)


@portal_view(signed_in=False)
def sign_in_sent(request: HttpRequest) -> HttpResponse:
    return portal_render(request, "portal/sign_in_sent.html", {"minutes": LINK_MINUTES})


@portal_view(signed_in=False, methods=("GET", "HEAD", "POST"))
def sign_in_link(request: HttpRequest, public_id: UUID, token: str) -> HttpResponse:
    """GET: a button (opening the page spends nothing). POST: the link is spent and the code is sent; this
    browser gets the cookie that lets it type the code. The browser that already did so, while its code
    still works, goes back to the code page (GET and POST: nothing is spent or sent again)."""
    if signin.sign_in_link_waiting_here(
        browser_cookie=request.COOKIES.get(signin.SIGN_IN_COOKIE, ""), public_id=public_id, token=token
    ):
        return redirect("portal:sign-in-code")
    if request.method != "POST":
        if signin.sign_in_link_usable(public_id=public_id, token=token) is None:
            return _gone(request)
        return portal_render(request, "portal/sign_in_link.html", {"link_path": request.path})
    opened = signin.sign_in_link_open(public_id=public_id, token=token)
    if opened is None:
        return _gone(request)
    _sign_in, browser_cookie = opened
    response = redirect("portal:sign-in-code")
    response.set_cookie(
        signin.SIGN_IN_COOKIE,
        browser_cookie,
        max_age=signin.SIGN_IN_COOKIE_SECONDS,
        path=settings.PORTAL_PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


@portal_view(signed_in=False, methods=("GET", "HEAD", "POST"))
def sign_in_code(request: HttpRequest) -> HttpResponse:
    """Type the code, in the browser that opened the link. Right: signed in, on to the plan. Wrong: say
    how many tries are left; after the last, the sign-in is spent."""
    browser_cookie = request.COOKIES.get(signin.SIGN_IN_COOKIE, "")
    waiting = signin.sign_in_waiting_for_code(browser_cookie=browser_cookie)
    if waiting is None:
        return _gone(request, code_page=True)
    by_sms = waiting.code_channel == NotificationChannel.SMS
    status = 200
    if request.method == "POST":
        form = SignInCodeForm(request.POST)
        if form.is_valid():
            result = signin.sign_in_code_check(
                browser_cookie=browser_cookie,
                code=form.cleaned_data["code"],
                origin=RequestOrigin.of(request),
            )
            if result.outcome == signin.CodeOutcome.SIGNED_IN:
                response = redirect("portal:home")
                signin.session_cookie_set(response=response, key=result.session_key)
                response.delete_cookie(signin.SIGN_IN_COOKIE, path=settings.PORTAL_PATH)
                return response
            if result.outcome == signin.CodeOutcome.TOO_MANY_WRONG:
                return _gone(request, too_many_codes=True, code_page=True)
            if result.outcome == signin.CodeOutcome.SPENT:
                return _gone(request, code_page=True)
            form.add_error(
                "code",
                ngettext(
                    "The code is not right. You can try %(count)d more time.",
                    "The code is not right. You can try %(count)d more times.",
                    result.tries_left,
                )
                % {"count": result.tries_left},
            )
        status = INVALID
    else:
        form = SignInCodeForm()
    context = {"form": form, "by_sms": by_sms, "minutes": CODE_MINUTES}
    return portal_render(request, "portal/sign_in_code.html", context, status=status)


@portal_view(signed_in=False, methods=("GET", "HEAD", "POST"))
def sign_out(request: HttpRequest) -> HttpResponse:
    """GET: a page that asks "Do you want to sign out?" with the button (it changes nothing; someone who
    is not signed in goes to the sign-in page). POST: end the portal session (if any) and forget its
    cookie; back to the sign-in page."""
    session = access.session_from_request(request)
    if request.method != "POST":
        if session is None:
            response = redirect("portal:sign-in")
            if settings.PORTAL_SESSION_COOKIE in request.COOKIES:
                response.delete_cookie(settings.PORTAL_SESSION_COOKIE, path=settings.PORTAL_PATH)
            return response
        return portal_render(request, "portal/sign_out.html")
    if session is not None:
        signin.portal_sign_out(session=session, origin=RequestOrigin.of(request))
    response = redirect(reverse("portal:sign-in") + f"?{SIGNED_OUT}")
    response.delete_cookie(settings.PORTAL_SESSION_COOKIE, path=settings.PORTAL_PATH)
    return response
