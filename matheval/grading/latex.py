"""Small LaTeX text utilities shared by extraction and normalisation: braces, boxes, top-level splits.

Everything here is linear-time string scanning; nothing parses mathematics.
"""

from __future__ import annotations

import re

# Full-width ASCII (U+FF01..U+FF5E) and CJK punctuation, mapped one character to one character so
# spans computed on the translated text are valid offsets into the original.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH.update({0x3000: ord(" "), 0x3002: ord("."), 0x3001: ord(","), 0x2212: ord("-")})


def halfwidth(text: str) -> str:
    """Full-width digits/letters/punctuation to ASCII, keeping the length (so offsets survive)."""
    if text.isascii():
        return text  # nothing to map; isascii is a flag check, translate a pass over every character
    return text.translate(_FULLWIDTH)


def match_brace(text: str, open_idx: int, opener: str = "{", closer: str = "}") -> int:
    """Index of the bracket closing the one at `open_idx`, or -1 if unbalanced.

    Escaped brackets (``\\{``) are skipped so set braces do not confuse group matching.
    """
    depth = 0
    i = open_idx
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == opener:
            depth += 1
        elif c == closer:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


_BOX_RE = re.compile(r"\\(?:boxed|fbox|framebox)\s*")


def find_boxes(text: str) -> list[tuple[int, int, str]]:
    """All ``\\boxed{...}`` / ``\\fbox{...}`` groups as (start, end, content), outermost only.

    Also accepts the brace-less ``\\boxed 5`` that some models emit.
    """
    boxes: list[tuple[int, int, str]] = []
    pos = 0
    while True:
        m = _BOX_RE.search(text, pos)
        if m is None:
            return boxes
        j = m.end()
        if j < len(text) and text[j] == "{":
            close = match_brace(text, j)
            if close < 0:
                # Unclosed box (truncated output): take the rest, the model's intent is clear.
                boxes.append((m.start(), len(text), text[j + 1 :]))
                return boxes
            boxes.append((m.start(), close + 1, text[j + 1 : close]))
            pos = close + 1
        else:
            tok = re.match(r"[^\s$]+", text[j:])
            if tok is None:
                pos = j
                continue
            boxes.append((m.start(), j + tok.end(), tok.group(0)))
            pos = j + tok.end()


_OPEN = "([{"
_CLOSE = ")]}"


def nesting_depth(text: str) -> int:
    """Maximum bracket depth, counting (, [ and { alike; -1 when brackets do not balance in count."""
    depth = best = 0
    for c in text:
        if c in _OPEN:
            depth += 1
            best = max(best, depth)
        elif c in _CLOSE:
            depth -= 1
            if depth < 0:
                return -1
    return best if depth == 0 else -1


def split_top_level(text: str, seps: tuple[str, ...]) -> list[str]:
    """Split on any of `seps` occurring outside (), [], {} and ``\\{ \\}``.

    Interval brackets may be mismatched (``[1, 2)``), so depth counts any opener against any
    closer rather than pairing them.
    """
    return split_with_separators(text, seps)[0]


def split_with_separators(text: str, seps: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """`split_top_level` plus the separator found between each pair of parts (one pass)."""
    parts: list[str] = []
    found: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        sep = None
        if c == "\\":
            if text.startswith(("\\{", "\\lbrace", "\\begin{"), i):
                depth += 1  # an environment (matrix, cases) is one piece, whatever it holds
            elif text.startswith(("\\}", "\\rbrace", "\\end{"), i):
                depth -= 1
            elif depth == 0:
                sep = _sep_at(text, i, seps)
            if sep is None:
                i += 2 if text.startswith(("\\{", "\\}"), i) else 1
                continue
        elif c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif depth == 0:
            sep = _sep_at(text, i, seps)
        if sep:
            parts.append(text[start:i])
            found.append(sep)
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts, found


def _sep_at(text: str, i: int, seps: tuple[str, ...]) -> str | None:
    for sep in seps:
        if text.startswith(sep, i):
            # A command separator must not be the prefix of a longer command (\le vs \left).
            last = sep[-1]
            if last.isascii() and last.isalpha() and i + len(sep) < len(text) and text[i + len(sep)].isalpha():
                continue
            return sep
    return None


def enclosed_by(text: str, opener: str, closer: str) -> bool:
    """True when `text` is one group: its first opener closes at the very last character."""
    if not (text.startswith(opener) and text.endswith(closer)):
        return False
    if opener == "{" and closer == "}":
        return match_brace(text, 0) == len(text) - 1
    depth = 0
    i = len(opener)
    end = len(text) - len(closer)
    while i < end:
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in _OPEN:
            depth += 1
        elif text[i] in _CLOSE:
            depth -= 1
            if depth < 0:
                return False
        i += 1
    return depth == 0


def unwrap_command(text: str, names: tuple[str, ...]) -> str:
    """Replace every ``\\name{content}`` (for the given names) with its content, outermost first."""
    pattern = re.compile(r"\\(?:" + "|".join(names) + r")\s*\{")
    out = text
    for _ in range(50):  # bounded: each pass removes at least one command
        m = pattern.search(out)
        if m is None:
            break
        close = match_brace(out, m.end() - 1)
        if close < 0:
            out = out[: m.start()] + out[m.end() :]
        else:
            out = out[: m.start()] + out[m.end() : close] + out[close + 1 :]
    return out
