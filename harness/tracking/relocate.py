"""Make a copied or moved SQLite store independent of the folder it came from.

MLflow records every experiment's and run's artifact location as an absolute `file:` URI, so a copy of
`mlruns/` still reads and writes artifacts in the original's folder. `relocate` rewrites those locations to
the copy's own `artifacts/` (MLflow has no API for it; the columns are plain text in its schema), and
`foreign_root` is how `run` notices a store that needs it before writing anything.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

# every column of MLflow's schema that holds an artifact location under the experiment's root
COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"), ("logged_models", "artifact_location"))


def own_root(db: Path) -> str:
    return (Path(db).resolve().parent / "artifacts").as_uri()


def foreign_roots(db: Path, experiment: str | None = None) -> list[str]:
    """The artifact roots of this store's experiments (or of one, by name) that are another store's
    (`<elsewhere>/artifacts`)."""
    own = own_root(db)
    with _connect(db) as con:
        found = [loc for (loc,) in con.execute("SELECT artifact_location FROM experiments" if experiment is None else
                                              "SELECT artifact_location FROM experiments WHERE name = ?",
                                              () if experiment is None else (experiment,))]
    return sorted({loc.rstrip("/") for loc in found if loc and loc.startswith("file:")
                   and loc.rstrip("/").endswith("/artifacts") and loc.rstrip("/") != own})


def relocate(db: Path) -> tuple[list[str], int]:
    """Point every location under a foreign root at this store's `artifacts/`; returns (old roots, rows)."""
    db = Path(db).resolve()
    roots, own, rows = foreign_roots(db), own_root(db), 0
    missing = [r for r in roots if Path(urlparse(r).path).is_dir() and not (db.parent / "artifacts").is_dir()]
    if missing:
        raise FileNotFoundError(f"{db.parent / 'artifacts'} does not exist, but the store's artifacts are in "
                                f"{urlparse(missing[0]).path}: copy that folder next to {db.name} first "
                                "(cp -r OLD/artifacts NEW/), then run relocate again")
    with _connect(db) as con:  # one transaction: all rewritten or none
        present = {(t, c) for t, c in COLUMNS if c in _columns(con, t)}
        for old in roots:
            like = old.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
            for table, column in sorted(present):
                rows += con.execute(
                    f"UPDATE {table} SET {column} = ? || substr({column}, ?) "  # noqa: S608 (names are ours)
                    f"WHERE {column} = ? OR {column} LIKE ? ESCAPE '\\'", (own, len(old) + 1, old, like)).rowcount
    return roots, rows


@contextmanager
def _connect(db: Path):
    """A connection in one transaction (committed on success), closed after."""
    if not Path(db).is_file():
        raise FileNotFoundError(f"{db}: no MLflow database here (a store folder holds mlflow.db)")
    con = sqlite3.connect(db, timeout=30)
    try:
        with con:
            yield con
    finally:
        con.close()


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
