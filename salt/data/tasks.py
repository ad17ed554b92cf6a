"""The two real benchmarks: their labels, languages, and the raw label strings each release uses.

Label order is part of the contract: it equals the ClassLabel order of the Hub datasets
(facebook/xnli: entailment, neutral, contradiction; paws-x: 0, 1), so a label index means the same
thing whether the rows came from the Hub or from released files.
"""

from __future__ import annotations

from salt.data.types import TaskSpec

XNLI = TaskSpec(
    name="xnli",
    labels=("entailment", "neutral", "contradiction"),
    languages=("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"),
)

PAWSX = TaskSpec(
    name="pawsx",
    labels=("different", "paraphrase"),
    languages=("de", "en", "es", "fr", "ja", "ko", "zh"),
)

TASKS: dict[str, TaskSpec] = {"xnli": XNLI, "pawsx": PAWSX}

# Raw label strings as they appear in the released files (and as Hub ClassLabel names) -> index.
# 'contradictory' is how some XNLI-MT copies spell contradiction; PAWS-X ships 0/1 strings.
RAW_LABELS: dict[str, dict[str, int]] = {
    "xnli": {"entailment": 0, "neutral": 1, "contradiction": 2, "contradictory": 2},
    "pawsx": {"0": 0, "1": 1},
}


def get_task(task: str) -> TaskSpec:
    """Look a task up by name, with an error that lists the choices instead of a bare KeyError."""
    try:
        return TASKS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(TASKS)}") from None


def check_languages(spec: TaskSpec, languages: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Resolve a language filter (None = all), rejecting codes the task does not have.

    A typo like 'ch' for 'zh' would otherwise silently load nothing for that language.
    """
    if languages is None:
        return spec.languages
    unknown = [lang for lang in languages if lang not in spec.languages]
    if unknown:
        raise ValueError(f"{spec.name} has no language(s) {unknown}; expected some of {list(spec.languages)}")
    return tuple(languages)
