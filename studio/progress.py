"""One progress convention: every long call takes ``progress: bool`` and draws a tqdm bar on stderr."""
from __future__ import annotations

import contextlib
import sys
from typing import Iterator


class _NoBar:
    def update(self, n: int = 1) -> None: ...
    def set_postfix_str(self, s: str) -> None: ...
    def close(self) -> None: ...


@contextlib.contextmanager
def bar(total: int | None, desc: str, unit: str = "it", enabled: bool = True, leave: bool = False) -> Iterator:
    if not enabled:
        yield _NoBar()
        return
    from tqdm import tqdm

    b = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=leave, dynamic_ncols=True)
    try:
        yield b
    finally:
        b.close()


def open_bar(enabled: bool, total: int | None, desc: str, unit: str = "it", leave: bool = False):
    """The same bar for code that closes it itself (``.update(n)``, ``.close()``)."""
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=leave, dynamic_ncols=True)
