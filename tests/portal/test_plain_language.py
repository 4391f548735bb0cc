"""Plain language in the portal (issue 14 item 5; STANDARDS.md §6.1): the fixed text of every portal page, and
of the sign-in messages sent by e-mail and SMS, reads at LIX 35 or lower in Danish.

The printed plan for the patient (templates/portal/documents/plan.html) is held to the same. A page's fixed
text is what no patient data fills in: the msgids of its {% translate %} and
{% blocktranslate %} tags (with the placeholders taken out), those of the base template and the partials it
includes (through {% extends %}, {% block %} and {% include %}; every branch of an {% if %}), and the
portal's Python strings shown on it (PYTHON_TEXT: form labels and errors, plain words for statuses and
roles). Each string is translated with gettext in Danish and counts as its own line (tests/portal/lix.py:
a heading, a label, a list item is a sentence of its own). Until the Danish translations are made the
Danish is the English msgid, and the scores are of that.

Run with -s to see each page's score and its hardest strings.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, engines
from django.template.base import FilterExpression, Node, NodeList, Template, Variable
from django.template.loader_tags import BlockNode, ExtendsNode, IncludeNode
from django.templatetags.i18n import BlockTranslateNode, TranslateNode
from django.utils import translation

from tests.portal.lix import lix, lix_counts

LIX_TARGET = 35
DANISH = "da"
ROOT = Path(settings.BASE_DIR)
PORTAL_TEMPLATES = ROOT / "templates" / "portal"
# The portal's pages, and the printed plan for the patient (templates/portal/documents/, issue 15).
PAGES = sorted(
    [path.name for path in PORTAL_TEMPLATES.glob("*.html") if path.name != "base.html"]
    + [
        f"documents/{path.name}"
        for path in (PORTAL_TEMPLATES / "documents").glob("*.html")
        if not path.name.startswith("_")
    ]
)


@dataclass(frozen=True)
class Message:
    """One gettext string: its msgid, plural msgid and context, as the catalogue knows it."""

    singular: str
    plural: str = ""
    context: str = ""

    def danish(self) -> list[str]:
        """The Danish text (each form of a plural), placeholders taken out."""
        with translation.override(DANISH):
            if self.plural:
                forms = [translation.ngettext(self.singular, self.plural, n) for n in (1, 2)]
                if self.context:
                    forms = [
                        translation.npgettext(self.context, self.singular, self.plural, n) for n in (1, 2)
                    ]
            elif self.context:
                forms = [translation.pgettext(self.context, self.singular)]
            else:
                forms = [translation.gettext(self.singular)]
        return [without_placeholders(form) for form in forms]


PLACEHOLDER = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]|%[sd]")


def without_placeholders(text: str) -> str:
    return PLACEHOLDER.sub("", text).replace("%%", "%")


# --- the templates' strings ---------------------------------------------------------------------------------

ENGINE = engines["django"].engine  # type: ignore[attr-defined]


def _constant(expression: object) -> str:
    """The string a template argument names, when it is a quoted constant ("" otherwise)."""
    if not isinstance(expression, FilterExpression):
        return ""
    value = expression.resolve(Context())
    return value if isinstance(value, str) else ""


def _translated_literal(expression: object) -> Message | None:
    """_("...") given as a template argument ({% include ... with label=_("...") %})."""
    variable = getattr(expression, "var", None)
    if isinstance(variable, Variable) and variable.translate and isinstance(variable.literal, str):
        return Message(variable.literal, context=variable.message_context or "")
    return None


def _walk(nodelist: NodeList | list[Node], blocks: dict[str, BlockNode]) -> Iterator[Message]:
    for node in nodelist:
        if isinstance(node, ExtendsNode):
            # The parent renders; the child's blocks (and any deeper child's, given in `blocks`) replace its.
            parent: Template = ENGINE.get_template(_constant(node.parent_name))
            yield from _walk(parent.nodelist, {**node.blocks, **blocks})
            return  # a child's text outside its blocks is never shown
        if isinstance(node, BlockNode):
            yield from _walk(blocks.get(node.name, node).nodelist, blocks)
        elif isinstance(node, IncludeNode):
            for value in node.extra_context.values():
                if (message := _translated_literal(value)) is not None:
                    yield message
            name = _constant(node.template)
            assert name, f"an include whose template is not a constant: {node.token}"
            yield from _walk(ENGINE.get_template(name).nodelist, {})
        elif isinstance(node, TranslateNode):
            literal = node.filter_expression.var.literal
            if isinstance(literal, str) and not node.noop:
                yield Message(literal, context=_constant(node.message_context))
        elif isinstance(node, BlockTranslateNode):
            singular, _vars = node.render_token_list(node.singular)
            plural = node.render_token_list(node.plural)[0] if node.plural else ""
            yield Message(singular, plural, _constant(node.message_context))
        else:
            for attribute in node.child_nodelists:
                yield from _walk(getattr(node, attribute, None) or [], blocks)


def template_messages(name: str) -> list[Message]:
    """Every string a page template shows, in order, each once."""
    return list(dict.fromkeys(_walk(ENGINE.get_template(name).nodelist, {})))


# --- the portal's Python strings ----------------------------------------------------------------------------

GETTEXT = {"_", "_lazy", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}


def gettext_calls(nodes: list[ast.AST], lines: range | None = None) -> list[Message]:
    """The strings of the gettext calls under `nodes` (on `lines`), in the order they are written."""
    found = []
    for node in (inner for top in nodes for inner in ast.walk(top)):
        if not isinstance(node, ast.Call) or (lines is not None and node.lineno not in lines):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        texts = [
            arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
        ]
        if name not in GETTEXT or not texts:
            continue
        if name.startswith("pgettext"):
            message = Message(texts[1], context=texts[0])
        elif name.startswith("ngettext"):
            message = Message(texts[0], texts[1])
        else:
            message = Message(texts[0])
        found.append((node.lineno, node.col_offset, message))
    return [message for _line, _column, message in sorted(found, key=lambda row: row[:2])]


@dataclass(frozen=True)
class PythonText:
    """The gettext strings in one place of a module: a class or function (`within`, dotted), or a section
    of a shared module ("# --- <section>" up to the next such line)."""

    path: str
    within: str = ""
    section: str = ""

    def _lines(self, source: str) -> range:
        if not self.section:
            return range(1, source.count("\n") + 2)
        starts = [n for n, line in enumerate(source.splitlines(), 1) if line.startswith("# --- ")]
        mine = [n for n in starts if source.splitlines()[n - 1].startswith(f"# --- {self.section}")]
        assert mine, f"no section {self.section!r} in {self.path}"
        after = [n for n in starts if n > mine[0]]
        return range(mine[0], after[0] if after else source.count("\n") + 2)

    def _scope(self, tree: ast.AST) -> ast.AST:
        for name in filter(None, self.within.split(".")):
            tree = next(
                node
                for node in ast.walk(tree)
                if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name == name
            )
        return tree

    def scope(self) -> ast.AST:
        return self._scope(ast.parse((ROOT / self.path).read_text()))

    def messages(self) -> list[Message]:
        source = (ROOT / self.path).read_text()
        return gettext_calls([self._scope(ast.parse(source))], self._lines(source))


# The portal's Python strings shown on a page, by page template.
PYTHON_TEXT: dict[str, tuple[PythonText, ...]] = {
    "sign_in.html": (PythonText("portal/forms.py", within="SignInForm"),),
    "sign_in_code.html": (
        PythonText("portal/forms.py", within="SignInCodeForm"),
        PythonText("portal/views/signin.py", within="sign_in_code"),
    ),
    "plan.html": (PythonText("portal/selectors.py", section="plan"),),
    "access_log.html": (PythonText("portal/selectors.py", section="access log"),),
    "documents.html": (PythonText("portal/selectors.py", section="documents"),),
    "documents/plan.html": (PythonText("portal/selectors.py", section="plan"),),
    # Questionnaires (issue 16): the errors on a question, and the one about the whole form.
    "questionnaire.html": (
        PythonText("portal/forms.py", within="QuestionnaireAnswersForm"),
        PythonText("portal/selectors.py", section="questionnaires"),
    ),
}


def page_messages(page: str) -> list[Message]:
    messages = template_messages(f"portal/{page}")
    for place in PYTHON_TEXT.get(page, ()):
        messages += place.messages()
    return list(dict.fromkeys(messages))


def sign_in_messages() -> dict[str, list[Message]]:
    """The two sign-in messages (e-mail or SMS), each read on its own: the code's and the link's, the two
    branches of PortalSignIn.notification_text."""
    function = PythonText("portal/models.py", within="PortalSignIn.notification_text").scope()
    branch = next(node for node in ast.walk(function) if isinstance(node, ast.If))
    texts = {
        "sign-in code message": gettext_calls(list(branch.body)),
        "sign-in link message": gettext_calls(list(branch.orelse)),
    }
    assert all(texts.values()), texts
    return texts


# --- the scores ---------------------------------------------------------------------------------------------


def danish_lines(messages: list[Message]) -> list[str]:
    return [
        line
        for message in messages
        for form in message.danish()
        for line in form.splitlines()
        if line.strip()
    ]


def report(name: str, lines: list[str]) -> str:
    counts = lix_counts("\n".join(lines))
    hardest = sorted(
        (line for line in lines if lix_counts(line).words >= 4), key=lambda line: lix(line), reverse=True
    )[:3]
    text = (
        f"{name}: LIX {counts.lix:.1f} ({counts.words} words, {counts.long_words} long, "
        f"{counts.sentences} sentences)"
    )
    return text + "".join(f"\n    {lix(line):5.1f}  {line}" for line in hardest)


def test_every_page_with_python_text_is_a_portal_page() -> None:
    assert set(PYTHON_TEXT) <= set(PAGES)
    assert {"sign_in.html", "plan.html", "access_log.html"} <= set(PAGES)
    assert {"not_found.html", "csrf_failure.html"} <= set(PAGES)  # the portal's own error pages
    assert {"documents.html", "document.html", "documents/plan.html"} <= set(PAGES)  # printing
    assert {"questionnaire.html", "questionnaire_done.html"} <= set(PAGES)  # questionnaires


@pytest.mark.parametrize("page", PAGES)
def test_the_fixed_text_of_each_portal_page_reads_at_lix_35_or_lower(page: str) -> None:
    lines = danish_lines(page_messages(page))
    assert lines, f"{page}: no fixed text found"
    print("\n" + report(page, lines))
    assert lix("\n".join(lines)) <= LIX_TARGET, report(page, lines)


def test_the_sign_in_messages_by_mail_and_sms_read_at_lix_35_or_lower() -> None:
    for name, messages in sign_in_messages().items():
        lines = danish_lines(messages)
        print("\n" + report(name, lines))
        assert lix("\n".join(lines)) <= LIX_TARGET, report(name, lines)


# --- lix() itself, on texts counted by hand -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("Jeg har en kat. Den er sort.", 3.5, "7 words, 2 sentences, no long word: 7/2 + 0"),
        ("Sygeplejersken kommer i morgen.", 29.0, "4 words, 1 sentence, 1 long (14 letters): 4 + 25"),
        ("Kommune kommer.", 52.0, "'kommune' has 7 letters (long), 'kommer' 6 (not): 2/1 + 100 × 1/2"),
        (
            "Pårørende får besked.",
            36.33,
            "æ, ø and å are letters: 'pårørende' is one 9-letter word: 3 + 33.33",
        ),
        ("Husk: tag medicinen.", 34.83, "a colon ends a sentence: 3 words / 2 + 100 × 1/3"),
        ("Dine aftaler\nHvem gør hvad\nRing til os", 15.17, "each line is a sentence: 8/3 + 100 × 1/8"),
        ("Kl. 14.30 på sundhed.dk...", 27.0, "'14.30' and 'sundhed.dk' end nothing: 4 words / 2 + 100 × 1/4"),
        ("Ring 46 31 00 00 i dag!\n\n14:30.", 3.0, "digits are no words; a line of no words no sentence"),
        ("e-mail", 2.0, "a hyphen splits: 'e' and 'mail', 2 short words in 1 sentence"),
    ],
)
def test_lix_counts_words_long_words_and_sentences_by_the_stated_rules(
    text: str, expected: float, why: str
) -> None:
    assert lix(text) == pytest.approx(expected, abs=0.01), why


def test_lix_of_a_long_sentence_of_long_words_is_high() -> None:
    # Björnsson's bands (STANDARDS.md §6.1): 55 and over is very hard, as law is.
    text = (
        "Behandlingsansvarlige sundhedspersoners dokumentationsforpligtelser vedrørende patientjournalføring."
    )
    assert lix(text) > 55


def test_lix_of_no_words_is_refused() -> None:
    with pytest.raises(ValueError, match="without words"):
        lix("14:30 – 15:00.")


def test_the_page_text_is_found_in_templates_and_partials() -> None:
    # The sign-in page: its own strings, its partial's none (the label comes from the form), the base's.
    singulars = [message.singular for message in page_messages("sign_in.html")]
    assert "Send me a link" in singulars  # the page
    assert "Sign in" in singulars  # its title block, which replaces the base's "Your plan"
    assert "Your plan" not in singulars
    assert "Go to the content" in singulars  # the base
    assert "E-mail or mobile number" in singulars  # the form (Python)
    assert any("%(minutes)s" in singular for singular in singulars)  # a blocktranslate, before translation
    assert all("%(" not in line for line in danish_lines(page_messages("sign_in.html")))
