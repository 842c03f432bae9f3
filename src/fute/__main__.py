"""The ``fute`` command's entry point: Ctrl-C is one line from the very first moment, the imports included
(the CLI module installs its own handler once loaded; an interrupt before that would be a traceback)."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from fute.cli import main as cli_main
    except KeyboardInterrupt:
        print("interrupted; nothing was started", file=sys.stderr)
        sys.exit(130)
    cli_main()


if __name__ == "__main__":
    main()
