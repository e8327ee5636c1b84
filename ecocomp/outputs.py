"""Writing output files (reports, ledger exports) all or nothing.

The content goes to a hidden file beside the target, is flushed to disk, and then replaces
the target in one rename. A failure part way (a full disk, a size limit, an interrupted run)
leaves any earlier file exactly as it was and no debris. A symbolic link is followed (its
target is replaced) and an earlier file's permissions are kept.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["replaced"]


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
