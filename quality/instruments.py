"""The questionnaires, their schedules and the indicators the product ships, as data.

WHO-5 (STANDARDS.md §4.1): five items, each 0–5, raw 0–25, score = raw × 4 (0–100, higher is better). A
score of 50 or less, or any item at 0 or 1, flags the plan for the coordinator; bands ≤ 28 low, 29–50
reduced, > 50 no sign of reduced wellbeing. Always "not a diagnosis". The Danish items are KL's FHIR
Questionnaire KLToolsCareWHO-5; free to use with attribution.

The Caregiver Strain Index comes from the relatives app (relatives.instruments): the same 13 items, answered
yes (1) or no (0) by a relative in the portal; 7 or more flags high strain.

The indicators (STANDARDS.md §5.6): each a denominator rule, a numerator rule, exclusions, a standard with
its direction, a period and whose result it is; quality.indicators turns the rules into queries.

`ship` writes what is missing (an administrator's later edits stay) and is used by the data migration (with
the migration's historical models) and by the demo.
"""

from __future__ import annotations

from typing import Any

from relatives.instruments import CSI

WHO5_KEY = "who5"
CSI_KEY = "csi"

WHO5_ATTRIBUTION = (
    "WHO-5 Trivselsindeks (WHO-5 Well-Being Index), Psykiatrisk Forskningsenhed, Psykiatrisk Center "
    "Nordsjælland, Hillerød; præsenteret for WHO i 1998. Dansk tekst som KL's spørgeskema KLToolsCareWHO-5. "
    "Må frit bruges til at måle trivsel, når kilden nævnes. Resultatet er ikke en diagnose."
)

WHO5: dict[str, Any] = {
    "key": WHO5_KEY,
    "name": "WHO-5 Trivselsindeks",
    "title_da": "Hvordan har du haft det?",
    "title_en": "How have you been?",
    "introduction_da": (
        "Her er fem udsagn om, hvordan du har haft det de sidste 2 uger. Vælg det svar, der passer bedst."
    ),
    "introduction_en": (
        "Here are five statements about how you have felt over the last 2 weeks. Choose the answer that "
        "fits best."
    ),
    "attribution": WHO5_ATTRIBUTION,
    "code_system": "http://snomed.info/sct",
    "code": "1144665009",
    "respondents": ["patient", "relative"],
    "score_multiplier": 4,
    "higher_is_better": True,
    "flag_score_at_most": 50,
    "flag_score_at_least": None,
    "flag_item_at_most": 1,
    "items": [
        ("cheerful", "I de sidste 2 uger har jeg været glad og i godt humør",
         "Over the last 2 weeks I have felt cheerful and in good spirits"),
        ("calm", "I de sidste 2 uger har jeg følt mig rolig og afslappet",
         "Over the last 2 weeks I have felt calm and relaxed"),
        ("active", "I de sidste 2 uger har jeg følt mig aktiv og energisk",
         "Over the last 2 weeks I have felt active and vigorous"),
        ("rested", "I de sidste 2 uger er jeg vågnet frisk og udhvilet",
         "Over the last 2 weeks I woke up feeling fresh and rested"),
        ("interest", "I de sidste 2 uger har min dagligdag været fyldt med ting der interesserer mig",
         "Over the last 2 weeks my daily life has been filled with things that interest me"),
    ],
    "options": [
        (5, "Hele tiden", "All of the time"),
        (4, "Det meste af tiden", "Most of the time"),
        (3, "Lidt mere end halvdelen af tiden", "More than half of the time"),
        (2, "Lidt mindre end halvdelen af tiden", "Less than half of the time"),
        (1, "Lidt af tiden", "Some of the time"),
        (0, "På intet tidspunkt", "At no time"),
    ],
    "bands": [
        (0, 28, "Lav trivsel", "Low wellbeing", "alert"),
        (29, 50, "Nedsat trivsel", "Reduced wellbeing", "warning"),
        (51, 100, "Ingen tegn på nedsat trivsel", "No sign of reduced wellbeing", "good"),
    ],
    # At the plan's start, 30 days after each discharge home and every 6 months (for every plan).
    "schedules": [
        ("patient", "plan_start", 0, None),
        ("patient", "after_discharge", 30, None),
        ("patient", "every_months", 0, 6),
        ("relative", "every_months", 0, 6),
    ],
}  # fmt: skip

CSI_QUESTIONNAIRE: dict[str, Any] = {
    "key": CSI_KEY,
    "name": CSI["name"],
    "title_da": "Hvordan er det at være pårørende?",
    "title_en": "How is it to be a relative?",
    "introduction_da": CSI["introduction"],
    "introduction_en": (
        "Here is a list of things other people have found hard when they help someone they care about. "
        "Do any of them fit you?"
    ),
    "attribution": CSI["attribution"],
    "code_system": "",
    "code": "",
    "respondents": ["relative"],
    "score_multiplier": 1,
    "higher_is_better": False,
    "flag_score_at_most": None,
    "flag_score_at_least": CSI["high_strain_from"],
    "flag_item_at_most": None,
    "items": CSI["items"],
    "options": [(1, "Ja", "Yes"), (0, "Nej", "No")],
    "bands": [
        (0, CSI["high_strain_from"] - 1, "Ikke høj belastning", "Not high strain", "neutral"),
        (CSI["high_strain_from"], len(CSI["items"]), "Høj belastning", "High strain", "alert"),
    ],
    "schedules": [("relative", "every_months", 0, 6)],
}

QUESTIONNAIRES: list[dict[str, Any]] = [WHO5, CSI_QUESTIONNAIRE]

# Each indicator's rules by name (quality.choices Population, Outcome, Exclusion), its standard and unit.
INDICATORS: list[dict[str, Any]] = [
    {
        "key": "home-nursing-24h",
        "name_da": "Besøg af hjemmesygeplejen inden for 24 timer efter udskrivelse",
        "name_en": "Home nursing visit within 24 hours of discharge",
        "population": "discharges_home", "outcome": "task_done_within_hours",
        "parameters": {"hours": 24, "task_kind": "home_visit", "sector": "municipality"},
        "exclusions": ["died", "transferred", "readmitted_before"],
        "standard": 90, "direction": "at_least", "unit": "home_municipality",
    },
    {
        "key": "gp-follow-up-7d",
        "name_da": "Opfølgning hos egen læge inden for 7 dage efter udskrivelse",
        "name_en": "GP follow-up within 7 days of discharge",
        "population": "discharges_home", "outcome": "task_done_within_days",
        "parameters": {"days": 7, "sector": "general_practice"},
        "exclusions": ["died", "transferred", "readmitted_before"],
        "standard": 80, "direction": "at_least", "unit": "general_practice",
    },
    {
        "key": "rehabilitation-plan-discharge-day",
        "name_da": "Genoptræningsplan på planen senest på udskrivelsesdagen",
        "name_en": "Rehabilitation plan on the plan by the day of discharge",
        "population": "discharges_home", "outcome": "task_on_discharge_day",
        "parameters": {"task_kind": "rehabilitation", "needs_task_kind": "rehabilitation", "days": 30},
        "exclusions": ["died", "transferred"],
        "standard": 95, "direction": "at_least", "unit": "hospital",
    },
    {
        "key": "coordinator-when-needed",
        "name_da": "Patienter vurderet til at have brug for en koordinator, som har en",
        "name_en": "Patients assessed as needing a coordinator who have one",
        "population": "plans_needing_coordinator", "outcome": "has_coordinator",
        "parameters": {}, "exclusions": ["plan_revoked"],
        "standard": 95, "direction": "at_least", "unit": "home_municipality",
    },
    {
        "key": "disputes-10-working-days",
        "name_da": "Uenigheder om ansvar afgjort inden for 10 arbejdsdage",
        "name_en": "Responsibility disputes resolved within 10 working days",
        "population": "disputes", "outcome": "resolved_within_working_days",
        "parameters": {"days": 10}, "exclusions": [],
        "standard": 90, "direction": "at_least", "unit": "raised_by",
    },
    {
        "key": "readmission-30d",
        "name_da": "Genindlæggelse inden for 30 dage efter udskrivelse",
        "name_en": "Readmission within 30 days of discharge",
        "population": "discharges_home", "outcome": "readmitted_within_days",
        "parameters": {"days": 30}, "exclusions": ["died", "transferred"],
        "standard": 15, "direction": "at_most", "unit": "hospital",
    },
    {
        "key": "what-matters-written",
        "name_da": "Planer hvor \"Hvad er vigtigt for dig?\" er skrevet",
        "name_en": "Plans with \"What matters to you?\" written",
        "population": "plans_open", "outcome": "what_matters_written",
        "parameters": {}, "exclusions": [],
        "standard": 90, "direction": "at_least", "unit": "coordinator_organisation",
    },
    {
        "key": "who5-response-rate",
        "name_da": "Svarprocent på WHO-5",
        "name_en": "WHO-5 response rate",
        "population": "questionnaire_requests", "outcome": "answered",
        "parameters": {"questionnaire": WHO5_KEY}, "exclusions": [],
        "standard": 60, "direction": "at_least", "unit": "coordinator_organisation",
    },
    {
        "key": "who5-mean",
        "name_da": "Gennemsnitlig WHO-5-score",
        "name_en": "Mean WHO-5 score",
        "measure": "mean",
        "population": "questionnaire_responses", "outcome": "score",
        "parameters": {"questionnaire": WHO5_KEY}, "exclusions": [],
        "standard": 50, "direction": "at_least", "unit": "coordinator_organisation",
    },
]  # fmt: skip


def ship(apps: Any) -> None:
    """Write each shipped questionnaire (items, options, bands, schedules) and indicator where missing.
    `apps`: the migration's app registry, or django.apps.apps."""
    questionnaire_model = apps.get_model("quality", "Questionnaire")
    item_model = apps.get_model("quality", "QuestionnaireItem")
    option_model = apps.get_model("quality", "AnswerOption")
    band_model = apps.get_model("quality", "ScoreBand")
    schedule_model = apps.get_model("quality", "QuestionnaireSchedule")
    indicator_model = apps.get_model("quality", "Indicator")
    fields = (
        "name", "title_da", "title_en", "introduction_da", "introduction_en", "attribution", "code_system",
        "code", "respondents", "score_multiplier", "higher_is_better", "flag_score_at_most",
        "flag_score_at_least", "flag_item_at_most",
    )  # fmt: skip
    for data in QUESTIONNAIRES:
        questionnaire, created = questionnaire_model.objects.get_or_create(
            key=data["key"], defaults={name: data[name] for name in fields}
        )
        if not created:
            continue
        item_model.objects.bulk_create(
            item_model(questionnaire=questionnaire, link_id=key, position=position, text_da=da, text_en=en)
            for position, (key, da, en) in enumerate(data["items"], start=1)
        )
        option_model.objects.bulk_create(
            option_model(questionnaire=questionnaire, position=position, value=value, text_da=da, text_en=en)
            for position, (value, da, en) in enumerate(data["options"], start=1)
        )
        band_model.objects.bulk_create(
            band_model(
                questionnaire=questionnaire, lowest=low, highest=high, label_da=da, label_en=en, tone=tone
            )
            for low, high, da, en, tone in data["bands"]
        )
        schedule_model.objects.bulk_create(
            schedule_model(
                questionnaire=questionnaire,
                respondent=respondent,
                milestone=milestone,
                offset_days=offset,
                every_months=every,
                window_days=14,
                reminder_days=[3, 7],
            )
            for respondent, milestone, offset, every in data["schedules"]
        )
    for position, data in enumerate(INDICATORS, start=1):
        indicator_model.objects.get_or_create(
            key=data["key"],
            defaults={
                "position": position,
                "name_da": data["name_da"],
                "name_en": data["name_en"],
                "measure": data.get("measure", "proportion"),
                "population": data["population"],
                "outcome": data["outcome"],
                "parameters": data["parameters"],
                "exclusions": data["exclusions"],
                "standard": data["standard"],
                "direction": data["direction"],
                "period": "quarter",
                "reporting_unit": data["unit"],
            },
        )
