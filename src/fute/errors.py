"""Errors that reach users as one line: what is wrong, where, and what to do."""


class FuteError(Exception):
    """Base of every error fute reports without a traceback (the CLI prints its message and exits 2)."""


class DataError(FuteError):
    """Input data that cannot be turned into samples (names the file, row or field)."""


class MissingSplitError(DataError):
    """A dataset folder has no file for the asked split (other splits may be there)."""


class SpaceMismatchError(FuteError):
    """Two task vectors from different spaces were compared."""


class StoreError(FuteError):
    """The vector store cannot do what was asked (missing name, ambiguous space, locked)."""


class DamagedTableError(StoreError):
    """One table of a store cannot be read; the others can (``fute store check`` / ``repair``)."""

    def __init__(self, message: str, space_id: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.space_id = space_id
        self.detail = detail


class DamagedSpaceWarning(UserWarning):
    """A read over every space passed over one that cannot be read, naming it (the others were read). The CLI
    prints it as one line and exits 3 (``fute.cli.EXIT_SKIPPED``) after finishing the command."""


class ConfigError(FuteError):
    """An unknown method, surrogate or option."""


def check_at_least(option: str, value: float | None, low: float) -> None:
    """An option's lower bound, checked where the CLI and the API meet (None passes: it means 'no cap')."""
    if value is not None and not value >= low:
        raise ConfigError(f"{option}={value!r}: must be at least {low:g}")


class CapabilityError(ConfigError):
    """A target was asked for a request its backend does not declare (e.g. token log-probs of a served model)."""
