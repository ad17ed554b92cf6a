"""SALT: self-augmentation for zero-shot cross-lingual transfer (Wang et al., AACL 2023).

The method library: task data, models, offline self-augmentation, online embedding mixup and the
trainer. It takes plain config objects and returns plain results; it knows nothing of Optuna or
MLflow (those live in `harness/`).
"""
__version__ = "0.1.0"
