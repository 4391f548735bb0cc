"""LIX (læsbarhedsindeks, Björnsson 1968), the usual Danish readability measure (STANDARDS.md §6.1):

    LIX = words / sentences + 100 × long words / words

Counting rules (small changes to them move the score, so they are stated here and tested):
- A word is a run of letters: any Unicode letter, so æ, ø and å (and é, ü, ...) are letters; digits,
  punctuation, hyphens, apostrophes and spaces are not. "e-mail" is two words ("e", "mail"), "14.30" none.
- A long word has more than 6 letters ("kommune", 7, is long; "kommer", 6, is not).
- A sentence ends at `.`, `!`, `?` or `:` followed by white space or the end of the text (so the dots in
  "14.30", "sundhed.dk" or "f.eks" end nothing; a run like "..." or "?!" ends one sentence), and at every
  line end: headings, list items and the separate messages of a page are given one to a line, so a page of
  short items is not scored as one long sentence.
- A sentence is a stretch between two ends that holds at least one word: an empty line, or a line of only
  digits and punctuation ("14:30."), is no sentence.
- Text without any word has no LIX (ValueError): there is nothing to read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

WORD = re.compile(r"[^\W\d_]+")  # letters only: \w without digits and underscore
SENTENCE_END = re.compile(r"[.!?:]+(?=\s|$)|\n")
LONG = 6  # letters; a word longer than this is long


@dataclass(frozen=True)
class LixCounts:
    words: int
    long_words: int
    sentences: int

    @property
    def lix(self) -> float:
        if not self.words:
            raise ValueError("LIX of a text without words")
        return self.words / self.sentences + 100 * self.long_words / self.words


def lix_counts(text: str) -> LixCounts:
    words = long_words = sentences = 0
    # Composed letters: "å" typed as "a" and a combining ring would otherwise split the word.
    for stretch in SENTENCE_END.split(unicodedata.normalize("NFC", text)):
        found = WORD.findall(stretch)
        if found:
            sentences += 1
            words += len(found)
            long_words += sum(1 for word in found if len(word) > LONG)
    return LixCounts(words=words, long_words=long_words, sentences=sentences)


def lix(text: str) -> float:
    """The LIX of `text`, by the counting rules above."""
    return lix_counts(text).lix
