"""The study harness: study files, Optuna, MLflow tracking, statistics and the `salt-harness` CLI."""
