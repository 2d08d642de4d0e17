"""The built-in FAQ responder: keyword and token overlap against staff-maintained entries.

Text is normalised (case, accents, punctuation), common words dropped, and each word cut to a
rough stem ("deliveries", "delivered" and "delivering" all meet "deliver"), so scoring works
on meaning-bearing stems. An entry scores on two signals, combined as independent evidence:

* keywords: the entry's keywords (or phrases) found in the message, and how much of the
  message they explain;
* question: the overlap (Jaccard) between the message and the entry's own question.

The best entry at or above FAQ_MATCH_THRESHOLD answers; ties go to the entry with more keyword
hits. Anything weaker is left for an agent.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings

from messaging.automation.models import FaqEntry
from messaging.automation.responders.base import Answer, Responder

STOPWORDS = frozenset(
    """a an the and or but if then so to of in on at by for with from into about as is are was
    were be been being am do does did doing have has had having i me my mine we our ours you your
    yours he him his she her it its they them their this that these those what which who whom
    whose when where why how can could will would shall should may might must not no yes please
    pls hi hello hey thanks thank ok okay there here any some just also very much more most
    get got want need tell know let like u ur im""".split()  # noqa: SIM905 - reads better
)
_WORD = re.compile(r"\w+", re.UNICODE)
KEYWORD_HIT_WEIGHT = 0.3
KEYWORD_COVERAGE_WEIGHT = 0.5


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _strip_suffix(word: str) -> str:
    if word.endswith("ies") and len(word) >= 5:
        return word[:-3] + "y"
    sibilant = word[-3:-2] in ("s", "x", "z") or word[-4:-2] in ("ch", "sh")
    if word.endswith("es") and len(word) >= 5 and sibilant:
        return word[:-2]
    for suffix in ("ing", "ed", "ment", "ly", "s", "y"):
        if not word.endswith(suffix) or len(word) - len(suffix) < 3:
            continue
        if suffix == "s" and word.endswith(("ss", "us", "is")):
            return word
        word = word[: -len(suffix)]
        if suffix in ("ing", "ed") and word[-1] == word[-2] and word[-1] not in "aeiouls":
            word = word[:-1]  # shipping -> ship, stopped -> stop
        return word
    return word


def stem(word: str) -> str:
    """A rough English stem: shipping, shipped, ships -> ship; deliveries, delivery -> deliver.

    Both sides of a comparison go through it, so consistency matters more than linguistics.
    """
    for _ in range(2):
        shorter = _strip_suffix(word)
        if shorter == word:
            break
        word = shorter
    if len(word) >= 4 and word.endswith("e"):
        word = word[:-1]  # store, stores -> stor; time, timing -> tim
    return word


def tokens(text: str) -> list[str]:
    """Meaning-bearing stems of `text`, in order."""
    return [stem(w) for w in _WORD.findall(_fold(text or "")) if w not in STOPWORDS and len(w) > 1]


@dataclass(frozen=True)
class Match:
    entry: object
    score: float
    keyword_hits: int


def _keyword_stems(keywords: str) -> list[tuple[str, ...]]:
    phrases = []
    for raw in (keywords or "").split(","):
        stems = tuple(tokens(raw))
        if stems:
            phrases.append(stems)
    return phrases


def _contains(haystack: list[str], phrase: tuple[str, ...]) -> bool:
    if len(phrase) == 1:
        return phrase[0] in haystack
    size = len(phrase)
    return any(tuple(haystack[i : i + size]) == phrase for i in range(len(haystack) - size + 1))


def entry_score(message_tokens: list[str], *, question: str, keywords: str) -> tuple[float, int]:
    """(score in 0..1, keyword hits) of one entry for an already tokenised message.

    A keyword hit counts once per word it has ("cash on delivery" is worth two), and the
    keyword score grows with both the hits and the share of the message they explain, so one
    generic word in a long message ("gift *cards*") does not reach the usual threshold.
    """
    if not message_tokens:
        return 0.0, 0
    words = set(message_tokens)
    hits = sum(
        len(phrase) for phrase in _keyword_stems(keywords) if _contains(message_tokens, phrase)
    )
    coverage = min(1.0, hits / len(words))
    keyword_score = min(1.0, KEYWORD_HIT_WEIGHT * hits + KEYWORD_COVERAGE_WEIGHT * coverage)
    question_words = set(tokens(question))
    union = words | question_words
    question_score = len(words & question_words) / len(union) if union else 0.0
    score = 1 - (1 - keyword_score) * (1 - question_score)
    return round(score, 4), hits


def faq_best_match(text: str, entries=None) -> Match | None:
    """The best-scoring enabled entry for `text` (whatever its score), or None."""

    if entries is None:
        entries = FaqEntry.objects.filter(enabled=True).only(
            "pk", "question", "keywords", "answer", "topic"
        )
    message_tokens = tokens(text)
    best: Match | None = None
    for entry in entries:
        score, hits = entry_score(message_tokens, question=entry.question, keywords=entry.keywords)
        if score <= 0:
            continue
        if best is None or (score, hits) > (best.score, best.keyword_hits):
            best = Match(entry, score, hits)
    return best


class FaqResponder(Responder):
    name = "faq"

    def __init__(self, *, threshold: float | None = None, entries=None):
        self.threshold = settings.FAQ_MATCH_THRESHOLD if threshold is None else threshold
        self.entries = entries

    def answer(self, text: str, contact=None) -> Answer | None:
        match = faq_best_match(text, self.entries)
        if match is None or match.score < self.threshold:
            return None
        entry = match.entry
        return Answer(text=entry.answer, topic=entry.topic, confidence=match.score)
