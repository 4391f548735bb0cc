"""The four pathway templates the product ships with (issue 12), written from Danish practice: KOL, type
2-diabetes, den ældre medicinske patient and the psychiatric discharge agreement / coordination plan.

Each is written as the working copy administrators edit and as its version 1 (the frozen snapshot plans
are made from), in the shape of pathways.pathway_templates.template_content. Keys shared between the
templates name the same thing ("opfoelgning-egen-laege", "medicingennemgang", "hjemmesygeplejebesoeg",
"aarskontrol-egen-laege", "rygestop" …), so a plan made from two of them gets that task once.

Data only: the text is what a Danish clinician reads, so it is Danish here, not translated."""

from django.db import migrations

PLAN_START = "plan_start"
DISCHARGE = "discharge"

# The discharge rules several templates share: one wording, so merged plans read the same.
HOME_NURSING_VISIT = {
    "key": "hjemmesygeplejebesoeg",
    "title": "Besøg af hjemmesygeplejen inden for 24 timer efter udskrivelse",
    "description": (
        "Besøg i hjemmet dagen efter udskrivelsen: almentilstand, medicin fra sygehuset sammenholdt med "
        "FMK, behov for pleje og hjælpemidler, og hvad borgeren skal gøre, hvis det bliver værre."
    ),
    "kind": "home_visit",
    "trigger": DISCHARGE,
    "responsible": "home_nursing",
    "offset_days": 1,
    "after_acute_ambulant": True,
}
REHABILITATION_PLAN = {
    "key": "genoptraeningsplan",
    "title": "Genoptræningsplan sendt til kommunen på udskrivningsdagen",
    "description": (
        "Sygehuset udarbejder en genoptræningsplan, når der er et lægefagligt begrundet behov for "
        "genoptræning efter udskrivelsen, og sender den til bopælskommunen samme dag."
    ),
    "kind": "rehabilitation",
    "trigger": DISCHARGE,
    "responsible": "hospital",
    "offset_days": 0,
}
REHABILITATION_START = {
    "key": "opstart-genoptraening",
    "title": "Opstart af genoptræning inden for 7 dage",
    "description": (
        "Kommunen starter genoptræningen efter genoptræningsplanen (sundhedslovens § 140). Kan kommunen "
        "ikke starte inden for 7 dage efter udskrivelsen, har borgeren frit valg af genoptræningssted."
    ),
    "kind": "rehabilitation",
    "trigger": DISCHARGE,
    "responsible": "municipal_rehabilitation",
    "offset_days": 7,
    "depends_on_key": "genoptraeningsplan",
}
GP_FOLLOW_UP = {
    "key": "opfoelgning-egen-laege",
    "title": "Opfølgning hos egen læge inden for 7 dage efter udskrivelse",
    "description": (
        "Konsultation (eller opfølgende hjemmebesøg) hos egen læge: epikrisen gennemgås, behandlingen "
        "justeres, og det aftales, hvad der skal ske, hvis tilstanden forværres."
    ),
    "kind": "appointment",
    "trigger": DISCHARGE,
    "responsible": "general_practice",
    "offset_days": 7,
}
MEDICATION_REVIEW = {
    "key": "medicingennemgang",
    "title": "Medicingennemgang inden for 14 dage efter udskrivelse",
    "description": (
        "Egen læge gennemgår medicinlisten i FMK efter ændringerne under indlæggelsen: doser, "
        "interaktioner, dobbeltbehandling og præparater, der kan seponeres."
    ),
    "kind": "medication_review",
    "trigger": DISCHARGE,
    "responsible": "general_practice",
    "offset_days": 14,
    "window_days": 7,
}
SMOKING_CESSATION = {
    "key": "rygestop",
    "title": "Tilbud om rygestopforløb",
    "description": (
        "Ryger borgeren, tilbydes kommunens gratis rygestopforløb (individuelt eller på hold), evt. med "
        "nikotinerstatning. Egen læge støtter op ved kontrollerne."
    ),
    "kind": "appointment",
    "trigger": PLAN_START,
    "responsible": "municipal_prevention",
    "window_days": 30,
    "goal_key": "roegfri",
}
SMOKE_FREE_GOAL = {
    "key": "roegfri",
    "description": "Røgfri",
    "expected_result": "Røgfri et halvt år efter rygestopforløbet (hvis borgeren ryger).",
}

TEMPLATES = [
    {
        "code": "kol",
        "name": "KOL",
        "description": (
            "Forløb for borgere med kronisk obstruktiv lungesygdom efter forløbsprogrammet for KOL: "
            "kontrol og spirometri hos egen læge, KOL-rehabilitering i kommunen, rygestop og vaccination. "
            "Ved udskrivelse efter en forværring: hjemmesygepleje inden for et døgn, genoptræningsplan, "
            "opfølgning hos egen læge og medicingennemgang."
        ),
        "condition": "KOL",
        "icd10_code": "J44",
        "goals": [
            {
                "key": "klare-hverdagen",
                "description": "Kan klare hverdagens gøremål trods åndenød",
                "expected_result": "Gennemført KOL-rehabilitering; uændret eller bedre CAT- og MRC-score.",
            },
            {
                "key": "faerre-indlaeggelser",
                "description": "Færre indlæggelser med forværring af KOL",
                "expected_result": (
                    "Kender sine tegn på forværring og sin handleplan; ingen genindlæggelse inden for 30 dage."
                ),
            },
            SMOKE_FREE_GOAL,
        ],
        "tasks": [
            {
                "key": "spirometri",
                "title": "Lungefunktionsmåling (spirometri)",
                "description": (
                    "Spirometri til vurdering af sværhedsgrad og behandling, samt CAT- og MRC-score. "
                    "Gentages ved årskontrollen."
                ),
                "kind": "appointment",
                "trigger": PLAN_START,
                "responsible": "general_practice",
                "offset_days": 30,
                "window_days": 14,
                "goal_key": "faerre-indlaeggelser",
            },
            {
                "key": "inhalationsteknik",
                "title": "Gennemgang af inhalationsteknik",
                "description": (
                    "Borgeren viser, hvordan inhalatoren bruges; teknikken rettes og forklares. Mange tager "
                    "deres inhalationsmedicin forkert."
                ),
                "kind": "appointment",
                "trigger": PLAN_START,
                "responsible": "general_practice",
                "offset_days": 30,
                "window_days": 14,
                "goal_key": "faerre-indlaeggelser",
            },
            {
                "key": "kol-rehabilitering-henvisning",
                "title": "Henvisning til KOL-rehabilitering i kommunen",
                "description": (
                    "Egen læge henviser til kommunens KOL-rehabilitering, når åndenøden begrænser "
                    "hverdagen (MRC 3 eller derover) og efter indlæggelse med forværring."
                ),
                "kind": "referral",
                "trigger": PLAN_START,
                "responsible": "general_practice",
                "offset_days": 30,
                "goal_key": "klare-hverdagen",
            },
            {
                "key": "kol-rehabilitering",
                "title": "KOL-rehabilitering: træning og patientuddannelse",
                "description": (
                    "Holdforløb på 8–12 uger med fysisk træning to gange om ugen og undervisning i "
                    "sygdommen, vejrtrækning, medicin, kost og at leve med åndenød."
                ),
                "kind": "rehabilitation",
                "trigger": PLAN_START,
                "responsible": "municipal_prevention",
                "offset_days": 60,
                "window_days": 30,
                "goal_key": "klare-hverdagen",
                "depends_on_key": "kol-rehabilitering-henvisning",
            },
            SMOKING_CESSATION | {"offset_days": 30},
            {
                "key": "vaccination",
                "title": "Influenza- og pneumokokvaccination",
                "description": (
                    "Årlig influenzavaccination (gratis for borgere med KOL) og pneumokokvaccination efter "
                    "Sundhedsstyrelsens anbefalinger."
                ),
                "kind": "appointment",
                "trigger": PLAN_START,
                "responsible": "general_practice",
                "offset_days": 60,
                "window_days": 30,
                "goal_key": "faerre-indlaeggelser",
            },
            {
                "key": "aarskontrol-egen-laege",
                "title": "Årskontrol hos egen læge",
                "description": (
                    "Årlig status: symptomer (CAT/MRC), spirometri, medicin og inhalationsteknik, "
                    "forværringer det seneste år, rygning, vægt, fysisk aktivitet og vaccinationer."
                ),
                "kind": "appointment",
                "trigger": PLAN_START,
                "responsible": "general_practice",
                "offset_days": 365,
                "window_days": 30,
            },
            HOME_NURSING_VISIT,
            REHABILITATION_PLAN,
            REHABILITATION_START,
            GP_FOLLOW_UP,
            MEDICATION_REVIEW,
        ],
    },
    {
        "code": "diabetes-2",
        "name": "Type 2-diabetes",
        "description": (
            "Forløb for borgere med type 2-diabetes: regulering og kontrol hos egen læge, "
            "patientuddannelse i kommunen, undersøgelse af fødder og øjne og årskontrol. Ved udskrivelse: "
            "opfølgning hos egen læge og medicingennemgang."
        ),
        "condition": "Type 2-diabetes",
        "icd10_code": "E11",
        "goals": [
            {
                "key": "blodsukker",
                "description": "Velreguleret blodsukker",
                "expected_result": "HbA1c inden for det aftalte individuelle mål (ofte 48–53 mmol/mol).",
            },
            {
                "key": "senkomplikationer",
                "description": "Senkomplikationer i fødder, øjne og nyrer opdages tidligt",
                "expected_result": "Fødder og øjne undersøgt efter planen; urin-albumin og nyretal kendt.",
            },
            SMOKE_FREE_GOAL,
        ],
        "tasks": [
            {
                "key": "hba1c",
                "title": "Blodprøve: HbA1c",
                "description": (
                    "HbA1c hver 3. måned, til behandlingen er stabil; derefter hver 6.–12. måned og altid "
                    "før årskontrollen."
                ),
                "kind": "appointment",
                "trigger": PLAN_START,
                "responsible": "general_practice",
                "offset_days": 90,
                "window_days": 14,
                "goal_key": "blodsukker",
            },
            {
                "key": "patientuddannelse-diabetes",
                "title": "Patientuddannelse om type 2-diabetes",
                "description": (
                    "Kommunens forløb om sygdommen, kost, fysisk aktivitet, medicin og egenmåling af "
                    "blodsukker, ofte på hold i sundhedscentret."
                ),
                "kind": "appointment",
                "trigger": PLAN_START,
                "responsible": "municipal_prevention",
                "offset_days": 60,
                "window_days": 30,
                "goal_key": "blodsukker",
            },
            {
                "key": "fodterapi",
                "title": "Fodundersøgelse og fodterapi",
                "description": (
                    "Egen læge undersøger fødderne for nedsat følesans, kredsløb og tryksår og henviser til "
                    "fodterapeut ved risikofod (fodterapi med tilskud efter lægehenvisning)."
                ),
                "kind": "referral",
                "trigger": PLAN_START,
                "responsible": "general_practice",
                "offset_days": 90,
                "window_days": 30,
                "goal_key": "senkomplikationer",
            },
            {
                "key": "oejenundersoegelse",
                "title": "Øjenundersøgelse hos øjenlæge",
                "description": (
                    "Screening for diabetisk øjensygdom (fotografering af nethinden) ved diagnosen og "
                    "derefter hvert 1.–2. år efter øjenlægens vurdering."
                ),
                "kind": "referral",
                "trigger": PLAN_START,
                "responsible": "general_practice",
                "offset_days": 90,
                "window_days": 30,
                "goal_key": "senkomplikationer",
            },
            SMOKING_CESSATION | {"offset_days": 60},
            {
                "key": "aarskontrol-egen-laege",
                "title": "Årskontrol hos egen læge",
                "description": (
                    "Årlig status: HbA1c, blodtryk, kolesterol, nyrefunktion og urin-albumin, fødder, "
                    "øjenundersøgelse, vægt, rygning og medicin."
                ),
                "kind": "appointment",
                "trigger": PLAN_START,
                "responsible": "general_practice",
                "offset_days": 365,
                "window_days": 30,
                "goal_key": "senkomplikationer",
            },
            GP_FOLLOW_UP,
            MEDICATION_REVIEW,
        ],
    },
    {
        "code": "aeldre-medicinsk",
        "name": "Den ældre medicinske patient",
        "description": (
            "Forløb for ældre borgere med flere kroniske sygdomme og skrøbelighed: opfølgende hjemmebesøg, "
            "medicingennemgang, ernæring og faldforebyggelse, så borgeren kan blive i eget hjem. Ved "
            "udskrivelse: hjemmesygepleje inden for et døgn, genoptræningsplan, opfølgning hos egen læge "
            "og medicingennemgang."
        ),
        "condition": "",
        "icd10_code": "",
        "goals": [
            {
                "key": "blive-hjemme",
                "description": "Kan blive boende i eget hjem",
                "expected_result": "Ingen uplanlagt genindlæggelse inden for 30 dage efter en udskrivelse.",
            },
            {
                "key": "funktionsevne",
                "description": "Bevarer sin funktionsevne og undgår fald",
                "expected_result": "Uændret eller bedre funktionsniveau ved opfølgningen; ingen fald.",
            },
        ],
        "tasks": [
            {
                "key": "opfoelgende-hjemmebesoeg",
                "title": "Opfølgende hjemmebesøg (egen læge og hjemmesygeplejerske)",
                "description": (
                    "Fælles besøg i hjemmet ved egen læge og kommunens sygeplejerske (hjemmesygepleje efter "
                    "sundhedslovens § 138): helbred, funktionsevne, medicin og hvem der gør hvad."
                ),
                "kind": "home_visit",
                "trigger": PLAN_START,
                "responsible": "home_nursing",
                "offset_days": 14,
                "window_days": 7,
                "goal_key": "blive-hjemme",
            },
            {
                "key": "systematisk-medicingennemgang",
                "title": "Systematisk medicingennemgang",
                "description": (
                    "Egen læge gennemgår al medicin (FMK) for uhensigtsmæssige præparater, doser hos ældre, "
                    "interaktioner og medicin, der øger faldrisikoen."
                ),
                "kind": "medication_review",
                "trigger": PLAN_START,
                "responsible": "general_practice",
                "offset_days": 30,
                "window_days": 14,
                "goal_key": "blive-hjemme",
            },
            {
                "key": "ernaeringsscreening",
                "title": "Ernæringsscreening og vejning",
                "description": (
                    "Screening for underernæring og vægttab; ved ernæringsmæssig risiko en plan for kost "
                    "og evt. kostfaglig hjælp."
                ),
                "kind": "home_visit",
                "trigger": PLAN_START,
                "responsible": "home_nursing",
                "offset_days": 14,
                "window_days": 7,
                "goal_key": "funktionsevne",
            },
            {
                "key": "faldforebyggelse",
                "title": "Faldudredning og faldforebyggende træning",
                "description": (
                    "Vurdering af faldrisiko, hjemmets indretning og hjælpemidler; træning af balance og "
                    "styrke."
                ),
                "kind": "rehabilitation",
                "trigger": PLAN_START,
                "responsible": "municipal_rehabilitation",
                "offset_days": 30,
                "window_days": 14,
                "goal_key": "funktionsevne",
            },
            HOME_NURSING_VISIT,
            REHABILITATION_PLAN,
            REHABILITATION_START,
            GP_FOLLOW_UP,
            MEDICATION_REVIEW,
        ],
    },
    {
        "code": "psykiatri-udskrivning",
        "name": "Psykiatrisk udskrivningsaftale / koordinationsplan",
        "description": (
            "Udskrivning fra psykiatrisk afdeling efter psykiatrilovens §§ 13 a–13 b: udskrivningsaftale "
            "(eller koordinationsplan, hvis patienten ikke vil medvirke), netværksmøde inden for 5 "
            "hverdage, kontakt til bostøtte/socialpsykiatri og somatisk opfølgning hos egen læge. Ved "
            "udskrivelse: kontakt fra kommunen inden for et døgn og opfølgning i psykiatrien inden for 7 "
            "dage."
        ),
        "condition": "",
        "icd10_code": "",
        "goals": [
            {
                "key": "stabil-hverdag",
                "description": "En stabil hverdag i egen bolig efter udskrivelsen",
                "expected_result": "Fastholder kontakten til behandlingen og til bostøtten.",
            },
            {
                "key": "somatisk-helbred",
                "description": "Det fysiske helbred bliver fulgt",
                "expected_result": "Somatisk helbredsundersøgelse gennemført og fulgt op.",
            },
        ],
        "tasks": [
            {
                "key": "udskrivningsaftale",
                "title": "Udskrivningsaftale eller koordinationsplan",
                "description": (
                    "Overlægen sørger før udskrivelsen for en udskrivningsaftale (psykiatrilovens § 13 a) "
                    "med patienten, kommunen og egen læge om behandling og sociale tilbud. Vil patienten "
                    "ikke medvirke, udarbejdes en koordinationsplan (§ 13 b)."
                ),
                "kind": "other",
                "trigger": PLAN_START,
                "responsible": "psychiatry",
                "offset_days": 0,
                "goal_key": "stabil-hverdag",
            },
            {
                "key": "netvaerksmoede",
                "title": "Tværsektorielt netværksmøde inden for 5 hverdage",
                "description": (
                    "Møde med patienten, evt. pårørende, psykiatrien, kommunen og egen læge om aftalerne "
                    "efter udskrivelsen."
                ),
                "kind": "appointment",
                "trigger": PLAN_START,
                "responsible": "psychiatry",
                "offset_days": 7,
                "goal_key": "stabil-hverdag",
                "depends_on_key": "udskrivningsaftale",
            },
            {
                "key": "kontakt-bostoette",
                "title": "Kontakt til bostøtte / socialpsykiatri",
                "description": (
                    "Kommunens socialpsykiatri aftaler støtte i hverdagen med borgeren (fx bostøtte efter "
                    "servicelovens § 85) og deltager i netværksmødet."
                ),
                "kind": "phone_call",
                "trigger": PLAN_START,
                "responsible": "home_municipality",
                "offset_days": 7,
                "goal_key": "stabil-hverdag",
            },
            {
                "key": "somatisk-opfoelgning",
                "title": "Somatisk helbredsundersøgelse hos egen læge",
                "description": (
                    "Blodtryk, vægt og livvidde, blodsukker og kolesterol, og bivirkninger af "
                    "psykofarmaka; mennesker med svær psykisk sygdom har større risiko for fysisk sygdom."
                ),
                "kind": "appointment",
                "trigger": PLAN_START,
                "responsible": "general_practice",
                "offset_days": 30,
                "window_days": 14,
                "goal_key": "somatisk-helbred",
            },
            {
                "key": "kommunal-kontakt",
                "title": "Kontakt fra kommunen inden for 24 timer efter udskrivelse",
                "description": (
                    "Bostøtte eller socialpsykiatri kontakter borgeren dagen efter udskrivelsen og aftaler "
                    "de første dage."
                ),
                "kind": "phone_call",
                "trigger": DISCHARGE,
                "responsible": "home_municipality",
                "offset_days": 1,
            },
            {
                "key": "opfoelgning-psykiatri",
                "title": "Ambulant opfølgning i psykiatrien inden for 7 dage",
                "description": (
                    "Første ambulante samtale efter udskrivelsen: tilstand, medicin og aftalerne i "
                    "udskrivningsaftalen."
                ),
                "kind": "appointment",
                "trigger": DISCHARGE,
                "responsible": "psychiatry",
                "offset_days": 7,
            },
            GP_FOLLOW_UP,
            MEDICATION_REVIEW,
        ],
    },
]

GOAL_FIELDS = ("key", "description", "expected_result")
TASK_FIELDS = (
    "key",
    "title",
    "description",
    "kind",
    "trigger",
    "responsible",
    "offset_days",
    "window_days",
    "goal_key",
    "depends_on_key",
    "visible_to_patient",
    "after_acute_ambulant",
)


def ship(apps, schema_editor):
    PathwayTemplate = apps.get_model("pathways", "PathwayTemplate")
    TemplateGoal = apps.get_model("pathways", "TemplateGoal")
    TemplateTask = apps.get_model("pathways", "TemplateTask")
    PathwayTemplateVersion = apps.get_model("pathways", "PathwayTemplateVersion")
    for shipped in TEMPLATES:
        if PathwayTemplate.objects.filter(code=shipped["code"]).exists():
            continue  # an administrator made one with this code already: theirs stays
        template = PathwayTemplate.objects.create(
            code=shipped["code"],
            name=shipped["name"],
            description=shipped["description"],
            condition=shipped["condition"],
            icd10_code=shipped["icd10_code"],
        )
        for order, goal in enumerate(shipped["goals"]):
            TemplateGoal.objects.create(template=template, sort_order=order, **goal)
        for order, task in enumerate(shipped["tasks"]):
            TemplateTask.objects.create(template=template, sort_order=order, **task)
        # The snapshot as pathways.pathway_templates.template_content writes it, read back from the rows.
        content = {
            "name": template.name,
            "condition": template.condition,
            "icd10_code": template.icd10_code,
            "goals": [
                {name: getattr(goal, name) for name in GOAL_FIELDS}
                for goal in TemplateGoal.objects.filter(template=template).order_by("sort_order", "id")
            ],
            "tasks": [
                {name: getattr(task, name) for name in TASK_FIELDS}
                for task in TemplateTask.objects.filter(template=template).order_by("trigger", "sort_order", "id")
            ],
        }
        PathwayTemplateVersion.objects.create(template=template, number=1, content=content)


def unship(apps, schema_editor):
    PathwayTemplate = apps.get_model("pathways", "PathwayTemplate")
    PathwayTemplateVersion = apps.get_model("pathways", "PathwayTemplateVersion")
    PlanTemplate = apps.get_model("pathways", "PlanTemplate")
    codes = [shipped["code"] for shipped in TEMPLATES]
    unused = PathwayTemplate.objects.filter(code__in=codes).exclude(
        pk__in=PlanTemplate.objects.values("template_id")
    )
    PathwayTemplateVersion.objects.filter(template__in=unused).delete()
    unused.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pathways", "0009_goal_template_key_plantemplate_start_date"),
    ]

    operations = [migrations.RunPython(ship, unship)]
