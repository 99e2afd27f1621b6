"""The ranked-list routes' JSON bodies, composed as text once the list is known: the hot path's encoding.

The response models in serving.models document these bodies; the text is what ``json.dumps`` of
the model's fields writes (same order, separators and ASCII escapes), at a tenth of its CPU:
only the customer's or product's id and the experiment's names need escaping, by the standard
library's own string encoder.
"""

from __future__ import annotations

import json
import os
from json.encoder import encode_basestring_ascii as quoted  # json.dumps's encoder for a str
from math import isfinite

from starlette.responses import Response

from serving.recommend import Answer

# a random (version 4) UUID: the version nibble and the variant bits set in the 128 random bits
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)
_JSON = (b"content-type", b"application/json")


def recommendation_id() -> str:
    """A new random UUID as text, as ``str(uuid.uuid4())`` writes it without building the object."""
    digits = ((int.from_bytes(os.urandom(16)) & _UUID4_CLEAR) | _UUID4_SET).to_bytes(16).hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class JSONBody(Response):
    """A 200 with a JSON text body: its two headers made directly, not worked out per response."""

    def __init__(self, text: str):
        self.status_code, self.background = 200, None
        self.body = text.encode()
        self.raw_headers = [(b"content-length", str(len(self.body)).encode()), _JSON]


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else quoted(value)


def listed(rec_id: str, answer: Answer, key: str, key_value: str, name: str, encoded: str) -> JSONBody:
    """The Served fields, ``key`` and the JSON array ``encoded`` (as the database built it) as ``name``."""
    load_id = "null" if answer.load_id is None else int(answer.load_id)
    return JSONBody(
        f'{{"recommendation_id": {quoted(rec_id)}, "source": {quoted(answer.source)}, '
        f'"cache_load_id": {load_id}, "experiment": {_text_or_null(answer.experiment)}, '
        f'"variant": {_text_or_null(answer.variant)}, "degraded": {"true" if answer.degraded else "false"}, '
        f'"{key}": {quoted(key_value)}, "{name}": {encoded}}}'
    )


def ranked(rec_id: str, answer: Answer, key: str, key_value: str) -> JSONBody:
    """A ranked list's body: the database's JSON array, or ``answer.values`` encoded here.

    Scores that are not finite go out as null, as pydantic wrote them.
    """
    encoded = answer.encoded
    if encoded is None:
        items = [
            {"item_id": item, "score": score if score is None or isfinite(score) else None}
            for item, score in answer.values
        ]
        encoded = json.dumps(items)
    return listed(rec_id, answer, key, key_value, "items", encoded)
