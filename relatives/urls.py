from django.urls import URLPattern, path

from relatives.views import children as children_views
from relatives.views import consent as consent_views
from relatives.views import support as support_views

app_name = "relatives"
urlpatterns: list[URLPattern] = [
    # --- consent ---
    path("plans/<uuid:public_id>/relatives/new/", consent_views.relative_create, name="relative-create"),
    path(
        "plans/<uuid:public_id>/relatives/<uuid:relative_id>/",
        consent_views.relative_detail,
        name="relative-detail",
    ),
    path(
        "plans/<uuid:public_id>/relatives/<uuid:relative_id>/edit/",
        consent_views.relative_update,
        name="relative-update",
    ),
    path(
        "plans/<uuid:public_id>/relatives/<uuid:relative_id>/remove/",
        consent_views.relative_remove,
        name="relative-remove",
    ),
    path(
        "plans/<uuid:public_id>/relatives/<uuid:relative_id>/consent/",
        consent_views.consent_record,
        name="consent-record",
    ),
    path(
        "plans/<uuid:public_id>/relatives/<uuid:relative_id>/consent/revoke/",
        consent_views.consent_revoke,
        name="consent-revoke",
    ),
    # --- support ---
    path(
        "plans/<uuid:public_id>/relatives/<uuid:relative_id>/support/",
        support_views.support_record,
        name="support-record",
    ),
    path(
        "plans/<uuid:public_id>/relatives/<uuid:relative_id>/support/screening/",
        support_views.strain_screening_create,
        name="strain-screening-create",
    ),
    path(
        "plans/<uuid:public_id>/relatives/<uuid:relative_id>/support/needs/new/",
        support_views.need_create,
        name="need-create",
    ),
    path(
        "plans/<uuid:public_id>/relatives/<uuid:relative_id>/support/needs/<uuid:need_id>/met/",
        support_views.need_met,
        name="need-met",
    ),
    path(
        "plans/<uuid:public_id>/relatives/<uuid:relative_id>/support/referrals/new/",
        support_views.referral_create,
        name="referral-create",
    ),
    path(
        "plans/<uuid:public_id>/relatives/<uuid:relative_id>/support/referrals/<uuid:referral_id>/",
        support_views.referral_update,
        name="referral-update",
    ),
    # --- children ---
    path(
        "plans/<uuid:public_id>/relatives/checklist/<uuid:item_id>/",
        children_views.checklist_item_update_partial,
        name="checklist-item-update-partial",
    ),
]
