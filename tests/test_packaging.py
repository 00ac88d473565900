"""The promises around installation: one dependency list in two files, pinned CI, working CLI errors."""
import email
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the dev extra installs tomli, the same parser
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}


def _name(requirement):
    return re.split(r"[<>=;\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {_name(r) for r in project["dependencies"] + extras["dev"] + extras["course"] if "python_version" not in r}
    conda = {_name(line.strip(" -")) for line in (ROOT / "environment.yml").read_text().splitlines()
             if line.strip().startswith("- ") and ":" not in line and "-e ." not in line}
    assert {CONDA_NAMES.get(n, n) for n in wanted} <= conda


def test_constraints_pin_every_dependency_exactly():
    pins = {_name(line): line for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for requirement in project["dependencies"] + [r for extra in extras.values() for r in extra]:
        if "python_version" in requirement:  # tomli, for Python 3.10 only
            continue
        name = _name(requirement)
        assert name in pins and "==" in pins[name], f"{name} is not pinned in constraints.txt"
    assert pins["torch"] == "torch==2.14.1"


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "tsnbook", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_unknown_config_and_key_name_the_nearest_valid_ones():
    result = _cli("train", "tsn_r18_1x1x3_12e_synthaction_rgb")
    assert result.returncode != 0
    assert "unknown config 'tsn_r18_1x1x3_12e_synthaction_rgb'" in result.stderr
    assert "(did you mean tsn_r18_1x1x3_12e_synthactions_rgb?)" in result.stderr
    assert "Traceback" not in result.stderr
    result = _cli("train", "tsn_r18_1x1x3_12e_synthactions_rgb", "--cfg-options", "lr_step=[3]")
    assert "has no key 'lr_step' (did you mean lr_steps?)" in result.stderr and "Traceback" not in result.stderr


def test_unwritable_work_dir_is_one_clear_message(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = _cli("demo", "--work-dir", str(blocker / "sub"), "--data-root", str(tmp_path / "data"))
    assert result.returncode != 0
    assert f"cannot write to {blocker / 'sub'}" in result.stderr and "Traceback" not in result.stderr


def test_setup_explains_a_too_old_or_missing_python(tmp_path):
    old = tmp_path / "python3.8"
    old.write_text('#!/bin/sh\ncase "$*" in *version_info*) exit 1;; -V) echo "Python 3.8.10";; esac\n')
    old.chmod(0o755)
    result = subprocess.run(["bash", str(ROOT / "tools" / "check_system.sh"), str(old)], capture_output=True,
                            text=True)
    assert result.returncode == 1
    assert "needs Python >= 3.10, but" in result.stderr and "Python 3.8.10" in result.stderr
    result = subprocess.run(["bash", str(ROOT / "tools" / "check_system.sh"), "python2.1-nowhere"],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "'python2.1-nowhere' not found" in result.stderr
    assert subprocess.run(["bash", str(ROOT / "tools" / "check_system.sh"), sys.executable]).returncode == 0


def test_the_library_needs_no_course_packages_and_setup_installs_them():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_name(r) for r in project["dependencies"]}
    assert not core & {"matplotlib", "jupyterlab", "ipywidgets"}  # `pip install tsnbook` stays lean
    assert {"matplotlib", "jupyterlab", "ipywidgets"} <= {_name(r) for r in project["optional-dependencies"]["course"]}
    makefile = (ROOT / "Makefile").read_text()
    assert '-e ".[course,dev]"' in makefile
    assert "|| true;" in makefile and "| $(QUIET_PIP)" in makefile  # the filter may not hide a failed pip


def test_a_failed_pip_install_fails_make_setup(tmp_path):
    # QUIET_PIP must keep pip's exit status under pipefail (it used to end in "|| true")
    makefile = (ROOT / "Makefile").read_text()
    quiet = next(line.split(":=", 1)[1].strip() for line in makefile.splitlines() if line.startswith("QUIET_PIP"))
    status = subprocess.run(["bash", "-o", "pipefail", "-c", f"(echo boom; exit 3) 2>&1 | {quiet}"]).returncode
    assert status == 3
    assert subprocess.run(["bash", "-o", "pipefail", "-c", f"echo fine | {quiet}"]).returncode == 0


def test_make_test_browser_without_chromium_skips_on_purpose(tmp_path):
    # pytest skipped its one browser test and exited 5 ("no tests ran"), which make reported as `Error 5`.
    # A stand-in venv whose stamps are fresh, so make installs nothing; chromium is pointed at a missing file.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (venv / "bin" / "python").chmod(0o755)
    for stamp in (".installed", ".browser"):
        (venv / stamp).touch()
    env = {key: value for key, value in os.environ.items() if key not in ("TSNBOOK_REQUIRE_BROWSER", "MAKEFLAGS")}
    env["TSNBOOK_CHROMIUM"] = str(tmp_path / "no-chromium")
    make = ["make", "--no-print-directory", "-C", str(ROOT), "test-browser", f"VENV={venv}"]
    done = subprocess.run(make, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"test-browser: skipped: chromium not found at {tmp_path / 'no-chromium'}" in done.stdout
    done = subprocess.run(make, env=dict(env, TSNBOOK_REQUIRE_BROWSER="1"), capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "TSNBOOK_REQUIRE_BROWSER is set" in done.stderr, done.stdout + done.stderr


def test_the_wheel_holds_the_whole_package_and_nothing_else(tmp_path):
    """``pip install tsnbook`` installs a wheel, not this checkout: every file under tsnbook/ must be in it (a data
    file the library reads would need package-data), the course's notebooks and the tests must not, its metadata must
    say what pyproject.toml says, and it must build without setuptools' deprecations (the license table of
    pyproject.toml was one: "By 2027-Feb-18 ... your builds will no longer be supported"). It is built from a copy,
    so that setuptools' build/ and egg-info folders are not written into the checkout."""
    pytest.importorskip("setuptools", minversion="77")  # what pyproject's build-system asks (an SPDX license)
    source = tmp_path / "source"
    shutil.copytree(ROOT / "tsnbook", source / "tsnbook", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
                           "--no-index", "--disable-pip-version-check", "-w", str(tmp_path / "wheel"), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "DeprecationWarning" not in done.stdout + done.stderr, done.stdout[-3000:]
    wheel, = (tmp_path / "wheel").glob("tsnbook-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = email.message_from_string(archive.read(next(n for n in names if n.endswith("/METADATA"))).decode())
    package = {path.relative_to(source).as_posix() for path in (source / "tsnbook").rglob("*") if path.is_file()}
    assert {n for n in names if ".dist-info/" not in n} == package
    import tsnbook
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (metadata["Name"], metadata["Version"], metadata["Requires-Python"]) == (
        "tsnbook", tsnbook.__version__, project["requires-python"])
    assert metadata["License-Expression"] == "Apache-2.0"
    core = [r.split(";")[0] for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert sorted(core) == sorted(r.split(";")[0].strip() for r in project["dependencies"])


def test_what_building_the_package_writes_in_the_checkout_is_ignored_by_git():
    """``pip install .`` and ``pip wheel .`` build in the checkout: its build/lib/ copy of the package (119 files) was
    not ignored, so a ``git add -A`` committed it. (A copy without git - a tarball - has nothing to commit.)"""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing here is committed")
    for path in ("build/lib/tsnbook/__init__.py", "dist/tsnbook-0.1.0-py3-none-any.whl", "tsnbook.egg-info/PKG-INFO"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0, f"{path} is not ignored"
