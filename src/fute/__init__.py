"""fute: datasets, fine-tuned models and prompted LLMs as task embeddings in one space (FUTE)."""

__version__ = "0.1.0"

from fute.embed import embed_dataset, embed_model, embed_samples  # noqa: E402
from fute.errors import DataError, FuteError, SpaceMismatchError, StoreError  # noqa: E402
from fute.methods import get_method, register_method  # noqa: E402
from fute.rank import rank  # noqa: E402
from fute.samples import Samples, load_samples  # noqa: E402
from fute.space import TaskVector  # noqa: E402
from fute.store import LocalStore, Store, open_store  # noqa: E402
from fute.surrogate import Surrogate, load_surrogate  # noqa: E402

__all__ = [
    "DataError",
    "FuteError",
    "LocalStore",
    "Samples",
    "SpaceMismatchError",
    "Store",
    "StoreError",
    "Surrogate",
    "TaskVector",
    "__version__",
    "embed_dataset",
    "embed_model",
    "embed_samples",
    "get_method",
    "load_samples",
    "load_surrogate",
    "open_store",
    "rank",
    "register_method",
]
