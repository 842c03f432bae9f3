"""fute: datasets, fine-tuned models and prompted LLMs as task embeddings in one space (FUTE)."""

__version__ = "0.1.0"

# The API is imported on first use (PEP 562), so `import fute` and `fute --help` do not load torch.
_LAZY = {
    "embed_dataset": "fute.embed",
    "embed_model": "fute.embed",
    "embed_samples": "fute.embed",
    "load_catalog": "fute.catalog",
    "Card": "fute.space",
    "DataError": "fute.errors",
    "FuteError": "fute.errors",
    "SpaceMismatchError": "fute.errors",
    "StoreError": "fute.errors",
    "get_method": "fute.methods",
    "register_method": "fute.methods",
    "rank": "fute.rank",
    "Samples": "fute.samples",
    "load_samples": "fute.samples",
    "select_prompts": "fute.select",
    "TaskVector": "fute.space",
    "LocalStore": "fute.store",
    "Store": "fute.store",
    "open_store": "fute.store",
    "Surrogate": "fute.surrogate",
    "load_surrogate": "fute.surrogate",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fute' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


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
    "select_prompts",
]
