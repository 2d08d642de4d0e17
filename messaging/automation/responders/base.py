"""The responder interface: `Responder.answer(text, contact) -> Answer | None`.

A responder never raises for a question it cannot answer, nor for a backend that is down or
slow: it returns None and the conversation waits for an agent.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    text: str
    topic: str
    confidence: float


class Responder(abc.ABC):
    #: Recorded on `AutomatedAnswer.responder` and in `AutoReplyRun.rule_key`.
    name: str = ""

    @abc.abstractmethod
    def answer(self, text: str, contact) -> Answer | None:
        """The answer to `text` from `contact` (a crm Contact, may be None), or None."""
