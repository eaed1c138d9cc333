"""Text from the database (or from a user) made safe to print: one line, no terminal control."""

from __future__ import annotations

import unicodedata

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(o: int) -> str:
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def printable(value) -> str:
    """``value`` as text that prints on one line and cannot drive a terminal: control and
    format characters (newlines, ANSI escapes, bidi overrides) and the backslash are written
    as escapes (``\\n``, ``\\x1b``, ``\\u202e``, ``\\\\``). For every audit field shown as text."""
    out = []
    for ch in "" if value is None else str(value):
        if ch == "\\":
            out.append("\\\\")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            out.append(_ESCAPES.get(ch) or _escape(ord(ch)))
        else:
            out.append(ch)
    return "".join(out)
