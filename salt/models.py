"""One loader for a hub id, a local directory or the synthetic world's model.

The masked LM (augmentation) and the sequence classifier (the task) come from the same checkpoint,
so the classifier starts from exactly the encoder whose MLM head proposed the substitutes.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging
from transformers import (
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

SYNTHETIC_PREFIX = "synthetic:"


class ModelLoadError(OSError):
    pass


def resolve_model(name: str, cache_dir: str | None = None) -> str:
    """Map a model name to what `from_pretrained` takes; builds (or reuses) the synthetic world's model."""
    if name.startswith(SYNTHETIC_PREFIX):
        from salt.synthetic import PRETRAIN_PRESETS, WORLD_PRESETS, world_model_dir

        preset = name[len(SYNTHETIC_PREFIX):] or "default"
        if preset not in WORLD_PRESETS:
            raise ModelLoadError(f"unknown synthetic model {name!r}; known: "
                                 + ", ".join(SYNTHETIC_PREFIX + p for p in WORLD_PRESETS))
        # Whoever builds the model holds the lock while everyone else waits: use every core
        # (measured: 77 vs 127 ms per pretraining step with 2 threads vs 1 on the 2-core machine).
        pretrain = replace(PRETRAIN_PRESETS[preset], threads=os.cpu_count() or 1)
        return str(world_model_dir(WORLD_PRESETS[preset], pretrain, cache_dir))
    return name


@contextmanager
def _quiet_transformers():
    """A fresh classifier head on an MLM checkpoint is expected: transformers' load report and weight
    progress bars would repeat in every trial's log. The caller's logging settings are restored."""
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _load(loader, name: str, cache_dir: str | None, **kwargs):
    path = resolve_model(name, cache_dir)
    try:
        with _quiet_transformers():
            return loader.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as err:  # transformers raises either, depending on online/offline
        local = Path(path).is_dir()
        hint = ("the directory lacks a saved model (config.json and weights)" if local else
                "it is neither a local directory nor reachable on the Hugging Face hub"
                + (" (HF_HUB_OFFLINE is set: it must already be in the HF cache)"
                   if os.environ.get("HF_HUB_OFFLINE") else "")
                + "; pass a local directory saved with save_pretrained, or 'synthetic:default'")
        raise ModelLoadError(f"cannot load model {name!r}: {hint}. ({err.__class__.__name__}: {err})") from err


# The multilingual MLMs SALT is meant for: what a misspelt hub id is compared with (with the cached ones).
MULTILINGUAL_MLMS = ("bert-base-multilingual-cased", "bert-base-multilingual-uncased", "xlm-roberta-base",
                     "xlm-roberta-large", "FacebookAI/xlm-roberta-base", "FacebookAI/xlm-roberta-large",
                     "google-bert/bert-base-multilingual-cased", "distilbert-base-multilingual-cased")


def check_model(name: str) -> str | None:
    """Why `name` cannot resolve, found before any training (None when it can).

    A synthetic preset must exist (it is built on first use), a local directory must hold a saved model,
    and a hub id must be in the Hugging Face cache or, online, on the hub (a misspelt id is caught here,
    with the close names, not after the study started).
    """
    if name.startswith(SYNTHETIC_PREFIX):
        from salt.synthetic.world import WORLD_PRESETS

        preset = name[len(SYNTHETIC_PREFIX):] or "default"
        return None if preset in WORLD_PRESETS else (
            f"unknown synthetic model {name!r}; known: " + ", ".join(SYNTHETIC_PREFIX + p for p in WORLD_PRESETS))
    path = Path(name).expanduser()
    if path.is_dir():
        return None if (path / "config.json").is_file() else (
            f"model directory {path} has no config.json: save the model there with save_pretrained")
    if name.startswith((".", "/", "~")) or os.sep in name.strip("/").replace("/", "", 1):
        return f"model {name!r} is neither an existing directory nor a hub id (org/name)"
    from huggingface_hub import HfApi, constants, is_offline_mode, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return None
    if is_offline_mode():
        return (f"model {name!r} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and the hub is "
                f"offline (HF_HUB_OFFLINE is set){_close_names(name)}: download it once with network access, or "
                "pass a local directory saved with save_pretrained")
    try:
        HfApi().model_info(name, timeout=10)
    except GatedRepoError:
        return None  # it exists; a token grants access
    except RepositoryNotFoundError:
        return f"model {name!r} is not on the Hugging Face hub{_close_names(name)}: check the name"
    except Exception as err:  # noqa: BLE001 (no network, a proxy): a model not cached cannot load either
        return (f"model {name!r} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and the hub cannot "
                f"be reached ({type(err).__name__}){_close_names(name)}: check the name, download it once with "
                "network access, or pass a local directory saved with save_pretrained")
    return None


def _close_names(name: str) -> str:
    """` (did you mean 'x'?)` from the multilingual MLMs and the models in the cache; empty without one."""
    import difflib

    known = list(MULTILINGUAL_MLMS)
    try:
        from huggingface_hub import scan_cache_dir

        known += [repo.repo_id for repo in scan_cache_dir().repos if repo.repo_type == "model"]
    except Exception:  # noqa: BLE001 (no cache yet)
        pass
    hits = difflib.get_close_matches(name, dict.fromkeys(known), n=2, cutoff=0.8)
    return f" (did you mean {' or '.join(map(repr, hits))}?)" if hits else ""


def load_tokenizer(name: str, cache_dir: str | None = None) -> PreTrainedTokenizerBase:
    return _load(AutoTokenizer, name, cache_dir)


def load_mlm(name: str, cache_dir: str | None = None) -> PreTrainedModel:
    return _load(AutoModelForMaskedLM, name, cache_dir)


def load_classifier(name: str, num_labels: int, cache_dir: str | None = None) -> PreTrainedModel:
    return _load(AutoModelForSequenceClassification, name, cache_dir, num_labels=num_labels)


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def model_revision(name: str) -> str | None:
    """The hub commit a hub id loaded from (its Hugging Face cache snapshot, after the load), so a run records
    which weights `main` meant that day; None for local directories and synthetic models."""
    if name.startswith(SYNTHETIC_PREFIX) or Path(name).expanduser().is_dir():
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(name, "config.json")
    return Path(found).parent.name if isinstance(found, str) else None


def model_fingerprint(name: str, cache_dir: str | None = None) -> str:
    """A cache key for a model: its resolved path plus the config and weight files' sizes and mtimes.

    Hub ids are their own key (a pinned revision is the user's job); local dirs change when retrained.
    """
    path = Path(resolve_model(name, cache_dir))
    if not path.is_dir():
        return name
    parts = [str(path.resolve())]
    for f in sorted(path.iterdir()):
        if f.suffix in {".json", ".safetensors", ".bin", ".model", ".txt"}:
            st = f.stat()
            parts.append(f"{f.name}:{st.st_size}:{int(st.st_mtime)}")
    return "|".join(parts)
