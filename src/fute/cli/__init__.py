"""The `fute` command: a thin layer over the Python API (same functions, same errors). One module per command
group; each only parses and prints. ``main`` is the entry point: its exit codes are the documented ones."""

from __future__ import annotations

import importlib
import sys
import warnings

from fute.cli import common as ui
from fute.cli.common import app
from fute.errors import FuteError
from fute.options import method_options, options_by_method, parse_pairs, parse_value

# the command modules, imported in the order `fute --help` lists them: the main job first
for _module in ("embed", "rank", "store", "maps", "prompts", "methods", "corpus", "bench", "demo"):
    importlib.import_module(f"fute.cli.{_module}")

EXIT_ERROR = 2  # a FuteError: one line on stderr, nothing half-done (what was stored stays stored)
EXIT_SKIPPED = 3  # the command finished, but passed over damaged spaces of the store, each named on stderr
EXIT_INTERRUPTED = 130
_skipped_spaces: list[str] = []


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    from fute.errors import DamagedSpaceWarning

    if issubclass(category, DamagedSpaceWarning):
        _skipped_spaces.append(str(message))
    ui.err.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


class Interrupted(BaseException):
    """Ctrl-C, raised instead of KeyboardInterrupt so that it reaches ``main`` (typer turns a KeyboardInterrupt
    into a silent exit 130) and says what was kept."""


def _on_interrupt(signum: int, frame: object) -> None:
    raise Interrupted


def main() -> None:
    """The ``fute`` command. Exit codes: 0 done; 1 a check found damage (``fute store check``); 2 a FuteError,
    printed as one line (``FUTE_DEBUG=1`` shows its traceback); 3 done, but damaged spaces of the store were
    passed over, each named in one line on stderr; 130 Ctrl-C. Every vector stored before an error stays stored."""
    import os
    import signal

    from fute.errors import DamagedSpaceWarning

    previous = signal.signal(signal.SIGINT, _on_interrupt)
    _skipped_spaces.clear()
    try:
        with warnings.catch_warnings():  # restores the caller's warning settings (tests, notebooks)
            warnings.simplefilter("always", DamagedSpaceWarning)  # every skip is said, and counted, every time
            warnings.showwarning = _one_line_warning
            app()
    except SystemExit as e:
        if e.code in (0, None) and _skipped_spaces:
            sys.exit(EXIT_SKIPPED)
        raise
    except FuteError as e:
        if os.environ.get("FUTE_DEBUG") == "1":
            raise
        ui.err.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_ERROR)
    except (KeyboardInterrupt, Interrupted):
        ui.err.print("interrupted; everything stored before this point is kept (rerun the command to go on)")
        sys.exit(EXIT_INTERRUPTED)
    finally:
        signal.signal(signal.SIGINT, previous)  # main() called in-process (tests, notebooks) leaves it as it was


if __name__ == "__main__":
    main()


__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_SKIPPED",
    "app",
    "main",
    "method_options",
    "options_by_method",
    "parse_pairs",
    "parse_value",
]
