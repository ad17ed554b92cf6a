"""Does salt-harness install on the newer Pythons it claims (requires-python)? For each version: its
dependencies from pyproject.toml are resolved for that version, binary wheels only, nothing installed and no
interpreter of that version needed: by `uv pip compile --python-version` when uv is on PATH (seconds), else
`pip install --dry-run --python-version` (a minute or more). torch is resolved without its dependencies
(PyPI's wheels for other versions pull CUDA libraries; the pin is what matters).

Exit 0 when every version resolves, 1 when one does not (pip's reason printed), 0 with a printed reason when
the check cannot run here (no package index reachable, pip too old). Usage: python3 scripts/check_python_versions.py [3.12 3.13]
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ("3.12", "3.13")
UNREACHABLE = ("NewConnectionError", "Failed to establish a new connection", "Temporary failure in name resolution",
               "Network is unreachable", "no such option: --dry-run", "error sending request", "dns error")


def project() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements(meta: dict) -> tuple[list[str], list[str]]:
    """(torch's pins, every other requirement: the dependencies and the postgres extra)."""
    reqs = [*meta["dependencies"], *meta.get("optional-dependencies", {}).get("postgres", [])]
    torch = [r for r in reqs if r.replace(" ", "").lower().startswith("torch=")]
    return torch, [r for r in reqs if r not in torch]


def resolve(version: str, reqs: list[str], no_deps: bool = False) -> subprocess.Popen:
    uv = shutil.which("uv")
    if uv:
        cmd = [uv, "pip", "compile", "--quiet", "--no-header", "--only-binary", ":all:", "--python-version", version,
               *(["--no-deps"] if no_deps else []), "-"]
    else:
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--only-binary=:all:", "--python-version", version, "--target", tempfile.mkdtemp(prefix="salt-pycheck-"),
               *(["--no-deps"] if no_deps else []), *reqs]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    proc.stdin.write("\n".join(reqs) + "\n" if uv else "")
    proc.stdin.close()
    return proc


def main(versions: list[str]) -> int:
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:  # pip vendors it
        from pip._vendor.packaging.specifiers import SpecifierSet

    meta = project()
    claimed = SpecifierSet(meta["requires-python"])
    torch, rest = requirements(meta)
    failed = []
    jobs = {}
    for version in versions:
        if version not in claimed:
            failed.append(f"Python {version}: requires-python {claimed} excludes it")
            continue
        jobs[version] = [resolve(version, rest), *([resolve(version, torch, no_deps=True)] if torch else [])]
    for version, procs in jobs.items():
        outputs = [p.stdout.read() for p in procs]
        for p in procs:
            p.wait()
        bad = [(p, out) for p, out in zip(procs, outputs) if p.returncode]
        if not bad:
            print(f"Python {version}: the dependencies resolve ({len(rest) + len(torch)} requirements)")
            continue
        text = "\n".join(out for _, out in bad)
        if any(marker in text for marker in UNREACHABLE):
            print(f"Python {version}: skipped, the check cannot run here (no package index reachable or pip "
                  "too old)")
            continue
        lines = [l for l in text.splitlines() if "ERROR" in l or "requires" in l.lower()] or text.splitlines()[-5:]
        failed.append(f"Python {version}: the dependencies cannot be resolved: " + " | ".join(lines[-5:]))
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(VERSIONS)))
