"""Writing output files (reports, ledger exports) all or nothing, and text safe to show.

:func:`spreadsheet_text` neutralises a text cell a spreadsheet would run as a formula
(CSV/formula injection); :func:`terminal_text` makes a name safe to print on a terminal
(no control or ANSI escape sequences).

The content goes to a hidden file beside the target, is flushed to disk, and then replaces
the target in one rename. A failure part way (a full disk, a size limit, an interrupted run)
leaves any earlier file exactly as it was and no debris. A symbolic link is followed (its
target is replaced) and an earlier file's permissions are kept.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["replaced", "spreadsheet_text", "terminal_text"]


@contextmanager
def replaced(
    path: str | os.PathLike[str], mode: str = "w", **open_args: Any
) -> Iterator[IO[Any]]:
    """Open a stand-in for ``path`` for writing; it becomes ``path`` when the block succeeds.

    ``mode`` is ``"w"`` (text; pass ``encoding``/``newline``) or ``"wb"``. An ``OSError``
    names ``path``, not the stand-in.

    >>> with replaced("out.csv", encoding="utf-8") as f:    # doctest: +SKIP
    ...     f.write("a,b\\n")
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, mode, **open_args) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror or str(exc), os.fspath(path)) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- safe text

#: First characters that make a spreadsheet read a cell as a formula or command (OWASP
#: "CSV injection"): = + - @, and tab and carriage return, which some programs skip first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str) -> str:
    r"""Text made safe for a spreadsheet cell: a leading ``'`` if it could start a formula.

    A text starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a single quote
    in front, so Excel, LibreOffice and WPS show it as text instead of running it (the OWASP
    practice against CSV injection). Pass text only: amounts are written as numbers.

    >>> spreadsheet_text('=HYPERLINK("http://x")'), spreadsheet_text("-1")
    ('\'=HYPERLINK("http://x")', "'-1")
    >>> spreadsheet_text("\tX"), spreadsheet_text("常德市")
    ("'\tX", '常德市')
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escape(ch: str) -> str:
    if ch in "\t\n\r":
        return {"\t": "\\t", "\n": "\\n", "\r": "\\r"}[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(value: object, *, keep_newlines: bool = False) -> str:
    r"""``value`` as text safe to print on a terminal: control characters shown escaped.

    Control characters (ESC of ANSI sequences such as ``\x1b[2J``, carriage return,
    backspace, bell, tab, C1 controls) and the bidirectional overrides that reorder what is
    shown are written as visible escapes (``\x1b``, ``\r``, ``\u202e``), so a name can
    neither clear the screen, move the cursor, recolour nor overwrite a line; the name stays
    recognisable. Line feeds are escaped too unless ``keep_newlines`` (for multi-line
    messages). Every name the command prints goes through here.

    >>> terminal_text("常德\x1b[2J市"), terminal_text("a\rb"), terminal_text("x\ny")
    ('常德\\x1b[2J市', 'a\\rb', 'x\\ny')
    """
    text = str(value)
    if text.isprintable():  # the common case, fast (bidi overrides are not printable)
        return text
    out = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)
