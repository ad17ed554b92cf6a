import os
import shutil
import subprocess
import sys

import pytest

from salt.models import ModelLoadError, load_classifier, load_mlm, load_tokenizer, resolve_model


def test_local_dir_and_synthetic_name_load_the_same_checkpoint(tiny_world, salt_cache):
    _, model_dir = tiny_world
    assert resolve_model("synthetic:tiny", str(salt_cache)) == model_dir
    mlm, clf = load_mlm(model_dir), load_classifier("synthetic:tiny", 3, str(salt_cache))
    # the classifier's encoder is exactly the encoder whose MLM head proposes substitutes
    a, b = mlm.base_model.state_dict(), clf.base_model.state_dict()
    shared = [k for k in a if k in b]
    assert shared and all((a[k] == b[k]).all() for k in shared)
    assert clf.config.num_labels == 3
    assert load_tokenizer(model_dir).mask_token == "[MASK]"


def test_hub_id_resolves_through_the_hf_cache_offline(tiny_world, tmp_path):
    """The real hub code path: an id, the HF cache layout, HF_HUB_OFFLINE=1 (no network needed)."""
    _, model_dir = tiny_world
    snap = tmp_path / "hub" / "models--salt-test--tiny-bert" / "snapshots" / ("0" * 40)
    shutil.copytree(model_dir, snap)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("0" * 40)
    code = ("from salt.models import load_classifier, load_tokenizer, model_revision;"
            "m = load_classifier('salt-test/tiny-bert', 2); t = load_tokenizer('salt-test/tiny-bert');"
            f"print(m.config.num_labels, t.cls_token, model_revision('salt-test/tiny-bert'), "
            f"model_revision({str(model_dir)!r}))")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # the snapshot's commit is what a run records (salt.model.revision); a local directory has none
    assert out.stdout.split()[-4:] == ["2", "[CLS]", "0" * 40, "None"]


def test_missing_model_error_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="no-such-org/no-such-model.*synthetic:default"):
        load_tokenizer("no-such-org/no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="lacks a saved model"):
        load_mlm(str(tmp_path / "empty"))
    with pytest.raises(ModelLoadError, match="unknown synthetic model"):
        resolve_model("synthetic:huge")
