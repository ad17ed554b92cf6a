"""A copied store is made independent by `relocate`, and `run` refuses to write through a copy before that."""
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from mlflow import MlflowClient

from harness.cli import main
from harness.tracking.store import TrackingError, prepare_store


def _store(folder: Path) -> tuple[str, str]:
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    exp = prepare_store(uri, "demo")
    client = MlflowClient(uri)
    run = client.create_run(exp).info.run_id
    client.log_text(run, "hello", "note.txt")
    client.set_terminated(run)
    return uri, run


def test_a_copied_store_is_refused_until_relocated(tmp_path, capsys):
    _, run = _store(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    copy = f"sqlite:///{tmp_path / 'b' / 'mlflow.db'}"
    with pytest.raises(TrackingError, match=r"copied or moved.*salt-harness relocate .*b"):
        prepare_store(copy, "demo")

    assert main(["relocate", str(tmp_path / "b")]) == 0
    assert "2 artifact locations moved from" in capsys.readouterr().out  # the experiment and its run
    exp = prepare_store(copy, "demo")
    client = MlflowClient(copy)
    assert urlparse(client.get_run(run).info.artifact_uri).path.startswith(str(tmp_path / "b" / "artifacts"))
    assert client.download_artifacts(run, "note.txt", str(tmp_path)) and (tmp_path / "note.txt").read_text() == "hello"
    new = client.create_run(exp).info.run_id
    client.log_text(new, "copy only", "x.txt")
    assert list((tmp_path / "b" / "artifacts").rglob("x.txt")) and not list((tmp_path / "a").rglob("x.txt"))
    assert MlflowClient(f"sqlite:///{tmp_path / 'a' / 'mlflow.db'}").get_experiment(exp).artifact_location == \
        (tmp_path / "a" / "artifacts").as_uri()  # the original is untouched

    assert main(["relocate", str(tmp_path / "b" / "mlflow.db")]) == 0
    assert "nothing to change" in capsys.readouterr().out


def test_relocate_names_what_is_missing(tmp_path, capsys):
    _store(tmp_path / "a")
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "a" / "mlflow.db", tmp_path / "b" / "mlflow.db")  # the database without its artifacts
    assert main(["relocate", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "artifacts does not exist" in err and "cp -r" in err
    assert main(["relocate", str(tmp_path / "nowhere")]) == 2
    assert "no MLflow database here" in capsys.readouterr().err
