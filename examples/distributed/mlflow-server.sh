#!/usr/bin/env bash
# An MLflow tracking server with a PostgreSQL backend; workers log through it (--tracking-uri).
set -euo pipefail
: "${MLFLOW_DB:=postgresql://salt:${PGPASSWORD:?set PGPASSWORD}@${DBHOST:?set DBHOST}:5432/mlflow}"
: "${ARTIFACTS:=/shared/salt/mlflow-artifacts}"
exec mlflow server --backend-store-uri "$MLFLOW_DB" --artifacts-destination "$ARTIFACTS" \
  --host 0.0.0.0 --port "${PORT:-5000}" --workers 4
