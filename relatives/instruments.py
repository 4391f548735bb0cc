"""The strain instruments the product ships, as data: the Caregiver Strain Index (Robinson 1983).

STANDARDS.md §4.2: 13 yes/no items, "yes" scores 1, total 0–13, 7 or more is high strain; any "yes" may
point to a need for help in that area. No validated Danish translation was found: the Danish text is the
product's own and says so. The licence is unclear (widely reproduced for clinical use; no open licence
found): used with attribution, to be cleared before a commercial launch (see the README).

`ship` writes the instruments where they are missing and is used by the data migration (with the
migration's historical models) and by the demo (after a test has emptied the tables).
"""

from __future__ import annotations

from typing import Any

CSI_KEY = "csi"

CSI: dict[str, Any] = {
    "key": CSI_KEY,
    "name": "Caregiver Strain Index (CSI)",
    "introduction": (
        "Her er en liste over ting, som andre har oplevet som svære, når de hjælper en, de holder af. "
        "Passer nogle af dem på dig?"
    ),
    "attribution": (
        "Caregiver Strain Index: Robinson BC. Validation of a Caregiver Strain Index. J Gerontol "
        "1983;38(3):344–348, doi:10.1093/geronj/38.3.344. Dansk tekst: Fælles forløbs egen oversættelse "
        "(ikke valideret). 7 eller flere ja-svar tyder på høj belastning. Screeningen er ikke en diagnose."
    ),
    "high_strain_from": 7,
    "items": [
        ("sleep", "Min søvn bliver forstyrret (fx fordi hun/han er oppe om natten).",
         "Sleep is disturbed (e.g. because the person is in and out of bed or wanders around at night)."),
        ("inconvenient", "Det er besværligt (fx fordi hjælpen tager lang tid, eller der er langt at køre).",
         "It is inconvenient (e.g. because helping takes so much time or it's a long drive over to help)."),
        ("physical", "Det er fysisk hårdt (fx at løfte ind og ud af en stol).",
         "It is a physical strain (e.g. because of lifting in and out of a chair)."),
        ("confining", "Det binder mig (fx har jeg mindre fritid eller kan ikke komme på besøg).",
         "It is confining (e.g. helping restricts free time or cannot go visiting)."),
        ("family", "Familien har måttet indrette sig (fx er hverdagen forstyrret, ingen tid for os selv).",
         "There have been family adjustments (e.g. helping has disrupted routine; there is no privacy)."),
        ("plans", "Jeg har måttet ændre mine planer (fx sige nej til et job eller aflyse en ferie).",
         "There have been changes in personal plans (e.g. turned down a job; could not go on holiday)."),
        ("demands", "Andre kræver også min tid (fx andre i familien).",
         "There have been other demands on my time (e.g. from other family members)."),
        ("emotional", "Det har været svært følelsesmæssigt (fx voldsomme skænderier).",
         "There have been emotional adjustments (e.g. because of severe arguments)."),
        ("behaviour", "Noget af det, hun/han gør, er svært for mig (fx inkontinens eller glemsomhed).",
         "Some behaviour is upsetting (e.g. incontinence, or trouble remembering things)."),
        ("changed", "Det er svært at se, hvor meget hun/han har forandret sig.",
         "It is upsetting to find the person has changed so much from their former self."),
        ("work", "Jeg har måttet ændre på mit arbejde (fx tage fri).",
         "There have been work adjustments (e.g. because of having to take time off)."),
        ("financial", "Det er en økonomisk belastning.",
         "It is a financial strain."),
        ("overwhelmed", "Jeg føler mig helt overvældet (fx af bekymring for, hvordan jeg skal klare det).",
         "Feeling completely overwhelmed (e.g. because of worry; concerns about how you will manage)."),
    ],
}  # fmt: skip

INSTRUMENTS: list[dict[str, Any]] = [CSI]


def ship(instrument_model: Any, item_model: Any) -> None:
    """Write each shipped instrument and its items where missing (an administrator's later edits stay)."""
    for data in INSTRUMENTS:
        instrument, created = instrument_model.objects.get_or_create(
            key=data["key"],
            defaults={
                "name": data["name"],
                "introduction": data["introduction"],
                "attribution": data["attribution"],
                "high_strain_from": data["high_strain_from"],
            },
        )
        if not created:
            continue
        item_model.objects.bulk_create(
            item_model(instrument=instrument, key=key, position=position, text_da=text_da, text_en=text_en)
            for position, (key, text_da, text_en) in enumerate(data["items"], start=1)
        )
