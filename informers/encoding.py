"""Encoding of server-side apply bodies that the apiserver's YAML reader accepts for every string.

The apiserver reads ``application/apply-patch+yaml`` with a YAML parser, which refuses both the
surrogate-pair escapes that ``json.dumps`` writes for characters outside the BMP (``\\ud83d\\ude00``:
"found invalid Unicode character escape code") and raw DEL/C1 control characters. So the body is JSON
with raw UTF-8, and only the characters YAML cannot read raw are escaped (YAML's ``\\u`` escape is
JSON's). It is sent as bytes under a content type with a ``charset`` parameter, which makes
kubernetes_asyncio pass it untouched; the apiserver ignores the parameter.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Content type of a pre-encoded server-side apply body.
APPLY_PATCH_UTF8 = "application/apply-patch+yaml; charset=utf-8"

_YAML_UNPRINTABLE = re.compile("[\x7f-\x9f\ufffe\uffff]")


def encode_apply_patch(body: Any) -> bytes:
    """``body`` as UTF-8 JSON bytes safe for the apiserver's YAML reader (see the module docstring)."""
    text = json.dumps(body, ensure_ascii=False)
    return _YAML_UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")
