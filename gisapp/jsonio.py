"""Strict JSON for requests: NaN/Infinity and absurd nesting are bad input (400), not crashes."""
from __future__ import annotations

import json

from flask.json.provider import DefaultJSONProvider


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONProvider(DefaultJSONProvider):
    def loads(self, s, **kwargs):
        try:
            return json.loads(s, parse_constant=_reject_constant, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
