"""Messages between sectors on a plan: start a thread, read it (a logged read of patient data that marks
it read for the reader's organisations) and reply. Plain posts redirect to the thread; the reply form also
posts with htmx and gets the thread's messages back. An emergency (break-the-glass) reader reads, but
neither writes nor marks read."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.vary import vary_on_headers

from coordination import access as coordination_access
from coordination import selectors, services
from coordination.forms import MessageForm, ThreadForm
from coordination.models import MessageThread
from pathways import access
from pathways.choices import AccessAction
from pathways.views.base import HtmxHttpRequest, editable_plan, staff, staff_view


def _thread_url(thread: MessageThread, plan_public_id: UUID, anchor: str = "") -> str:
    url = reverse("coordination:thread-detail", args=[plan_public_id, thread.public_id])
    return url + (f"#{anchor}" if anchor else "")


def _writer(request: HtmxHttpRequest, public_id: UUID) -> tuple[Any, access.PlanAccess, Any, Any]:
    """The plan for a write (logged as a change), and the organisations the actor may write for and to.
    An emergency reader, or a reader who writes for no organisation in the plan, is refused (403)."""
    actor, granted = editable_plan(request, public_id)
    if granted.emergency is not None:
        raise PermissionDenied
    senders, recipients = selectors.message_form_organisations(actor, granted.plan)
    if not senders.exists():
        raise PermissionDenied
    return actor, granted, senders, recipients


@staff_view("GET", "POST")
@vary_on_headers("HX-Request")  # one URL, a page or (htmx) its fragment
def thread_create(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """A new thread on the plan, with its first message (a page of its own; without JavaScript too)."""
    actor, granted, senders, recipients = _writer(request, public_id)
    plan = granted.plan
    task = request.GET.get("task") if request.method == "GET" else None
    initial = {"task": task} if task else {}
    form = ThreadForm(
        request.POST or None, plan=plan, senders=senders, recipients=recipients, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            thread = services.thread_start(actor=actor, plan=plan, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect(_thread_url(thread, plan.public_id))
    status = 422 if request.method == "POST" else 200
    return render(request, "coordination/thread_create.html", {"plan": plan, "form": form}, status=status)


def _reply_form(page: selectors.ThreadPage, senders: Any, recipients: Any) -> MessageForm:
    initial: dict[str, Any] = {"recipients": page.reply_recipients}
    if page.reply_sender is not None:
        initial["sender_organisation"] = page.reply_sender
    return MessageForm(senders=senders, recipients=recipients, initial=initial, auto_id="reply-%s")


@staff_view("GET")
@vary_on_headers("HX-Request")  # one URL, a page or (htmx) its fragment
def thread_detail(request: HtmxHttpRequest, public_id: UUID, thread_id: UUID) -> HttpResponse:
    """The thread: reading it is a logged read of patient data (VIEW_MESSAGES) and marks its messages
    read for the reader's organisations; an emergency reader's read is logged with the emergency purpose
    and marks nothing."""
    actor = staff(request)
    granted = access.access_plan(actor, public_id, action=AccessAction.VIEW_MESSAGES)
    thread = coordination_access.access_thread(granted, thread_id)
    if granted.emergency is None:
        services.thread_mark_read(actor=actor, thread=thread)
    page = selectors.thread_page(actor, granted, thread)
    form = None
    if page.can_reply:
        senders, recipients = selectors.message_form_organisations(actor, granted.plan)
        form = _reply_form(page, senders, recipients)
    context = {"plan": granted.plan, "page": page, "form": form}
    return render(request, "coordination/thread_detail.html", context)


@staff_view("POST")
@vary_on_headers("HX-Request")  # one URL, a page or (htmx) its fragment
def thread_reply(request: HtmxHttpRequest, public_id: UUID, thread_id: UUID) -> HttpResponse:
    """A new message in the thread. Plain post: back to the thread at the new message (or the page again
    with the errors, 422). htmx: the thread's messages and a fresh form (or the form with its errors)."""
    actor, granted, senders, recipients = _writer(request, public_id)
    thread = coordination_access.access_thread(granted, thread_id)
    form = MessageForm(request.POST, senders=senders, recipients=recipients, auto_id="reply-%s")
    if form.is_valid():
        try:
            message = services.message_send(actor=actor, thread=thread, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if not request.htmx:
                return redirect(_thread_url(thread, granted.plan.public_id, f"message-{message.public_id}"))
            page = selectors.thread_page(actor, granted, thread)
            form = _reply_form(page, senders, recipients)
            context = {"plan": granted.plan, "page": page, "form": form}
            return render(request, "coordination/_partials/thread.html", context)
    page = selectors.thread_page(actor, granted, thread)
    context = {"plan": granted.plan, "page": page, "form": form}
    if request.htmx:
        # htmx swaps 2xx answers only: the form comes back in place with its errors.
        return render(request, "coordination/_partials/thread.html", context)
    return render(request, "coordination/thread_detail.html", context, status=422)
