"""Our MLflow layer, one job per module: `store` (create the store and experiment), `runs` (the life of
parent and trial runs: every write), `readback` (the one reader of runs, predictions and parents),
`results` (what a salt RunResult becomes: metrics and artifacts), `tags` (the names all of them use).

Why our own small layer instead of the fluent API or optuna-integration's MLflowCallback: every call
names its run id explicitly (`MlflowClient`), so trials in threads or processes never share a global
"active run"; the callback serialises threaded trials and ends failed ones FINISHED.
"""
