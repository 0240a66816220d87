"""A plain (not editable) install carries every data file the source tree has: what the
package data in pyproject.toml leaves out is missing after `pip install .` although every
test from the clone passes (default_speaker.npy was: `edgevc export` stopped on it).

Two projects: edgevc (pyproject.toml: the runtime, the default bundle and the toolchain's
code; the device install) and edgevc-checkpoints (export/checkpoints/pyproject.toml: the
training checkpoints, which only the toolchain reads), so the device wheel holds no `.pt`."""

import ast
import fnmatch
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "export" / "checkpoints"  # the edgevc-checkpoints project


def _tracked_files(others: bool = False) -> list[Path]:
    """The files git tracks; with `others`, also the untracked ones it does not ignore (a
    checkpoint copied in and not committed yet)."""
    cmd = ["git", "ls-files", "-z"] + (["--cached", "--others", "--exclude-standard"]
                                       if others else [])
    try:
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return [ROOT / p for p in out.decode().split("\0") if p]


def _setup(project: Path) -> dict:
    return tomllib.loads((project / "pyproject.toml").read_text())["tool"]["setuptools"]


def _project_of(path: Path) -> Path:
    """The innermost folder holding `path` that is a project (has a pyproject.toml)."""
    return next(d for d in path.parents if (d / "pyproject.toml").is_file())


def _not_in_package_data(project: Path) -> list[str]:
    """The project's data files (tracked, not .py, not its pyproject.toml) that no pattern of
    its package data takes, in the packages the project builds."""
    setup = _setup(project)
    dirs = {pkg: (project / setup.get("package-dir", {}).get(pkg, pkg.replace(".", "/"))).resolve()
            for pkg in setup["packages"]}
    patterns = setup.get("package-data", {})
    missing = []
    for path in _tracked_files():
        if (path.suffix == ".py" or not path.exists() or _project_of(path) != project
                or path == project / "pyproject.toml"):
            continue
        # the innermost package folder holding the file
        owners = [(pkg, d) for pkg, d in dirs.items() if d in path.parents]
        if not owners:
            continue
        pkg, d = max(owners, key=lambda o: len(o[1].parts))
        rel = path.relative_to(d).as_posix()
        if not any(fnmatch.fnmatch(rel, pat) for pat in patterns.get(pkg, [])):
            missing.append(f"{path.relative_to(ROOT)} (package {pkg})")
    return missing


def test_package_data_covers_every_data_file_in_the_packages():
    missing = _not_in_package_data(ROOT)
    assert not missing, "not in [tool.setuptools.package-data]: " + ", ".join(missing)


def test_the_checkpoints_project_ships_every_file_in_its_folder():
    # every checkpoint, the default voice's speaker vector and voicing.json, by pattern, so a
    # checkpoint released into the folder ships without editing the project
    assert _project_of(CHECKPOINTS / "acoustic.pt") == CHECKPOINTS
    missing = _not_in_package_data(CHECKPOINTS)
    assert not missing, ("not in export/checkpoints/pyproject.toml's package-data: "
                         + ", ".join(missing))
    # also what is copied in and not committed yet
    patterns = _setup(CHECKPOINTS)["package-data"]["edgevc_checkpoints"]
    files = [p for p in _tracked_files(others=True)
             if p.parent == CHECKPOINTS and p.name not in ("__init__.py", "pyproject.toml")]
    assert {p.suffix for p in files} >= {".pt", ".npy", ".json"}
    left = [p.name for p in files if not any(fnmatch.fnmatch(p.name, pat) for pat in patterns)]
    assert not left, f"export/checkpoints/pyproject.toml's package-data leaves out {left}"


def test_the_checkpoints_project_reads_only_its_own_folder():
    setup = _setup(CHECKPOINTS)
    assert setup["packages"] == ["edgevc_checkpoints"]
    assert setup["package-dir"] == {"edgevc_checkpoints": "."}
    assert set(setup["package-data"]["edgevc_checkpoints"]) >= {"*.pt", "*.npy", "*.json"}


def test_the_device_wheel_carries_no_checkpoint():
    setup = _setup(ROOT)
    # no package of the edgevc distribution is, or lies in, export/checkpoints
    dirs = [(ROOT / setup["package-dir"].get(pkg, pkg.replace(".", "/"))).resolve()
            for pkg in setup["packages"]]
    assert not [d for d in dirs if d == CHECKPOINTS or CHECKPOINTS in d.parents]
    assert "edgevc.export.checkpoints" not in setup["packages"]
    # no package-data pattern names .pt files, and a .pt that a wider one takes (a folder's
    # `*`) is excluded
    named = [(pkg, pat) for pkg, pats in setup["package-data"].items() for pat in pats
             if ".pt" in pat]
    assert not named, named
    assert "*.pt" in setup["exclude-package-data"]["*"]
    # nor anything of export/checkpoints that a stale edgevc.egg-info/SOURCES.txt lists
    assert "checkpoints/*" in setup["exclude-package-data"]["edgevc.export"]


def test_the_checkpoints_are_versioned_with_edgevc():
    import edgevc

    tree = ast.parse((CHECKPOINTS / "__init__.py").read_text())
    version = next(n.value.value for n in tree.body if isinstance(n, ast.Assign)
                   and [t.id for t in n.targets if isinstance(t, ast.Name)] == ["__version__"])
    assert version == edgevc.__version__
    assert _setup(CHECKPOINTS)["dynamic"]["version"]["attr"] == "edgevc_checkpoints.__version__"


def test_the_install_commands_name_the_checkpoints_project():
    from edgevc.cli import TOOLCHAIN_INSTALL

    # the runtime's hint (no toolchain installed) and the README give the same command
    readme = (ROOT / "README.md").read_text()
    assert TOOLCHAIN_INSTALL.replace("'", '"') in readme
    assert "./export/checkpoints" in TOOLCHAIN_INSTALL
    assert (ROOT / "export" / "checkpoints" / "pyproject.toml").is_file()


def test_the_runtime_is_marked_typed():
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert (ROOT / "edgevc" / "py.typed").is_file()
    assert "py.typed" in setup["package-data"]["edgevc"]


def test_every_runtime_package_is_listed():
    # a subpackage missing from [tool.setuptools] packages is left out of a plain install
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "edgevc").rglob("__init__.py")}
    assert found <= set(setup["packages"]), sorted(found - set(setup["packages"]))


# -- where the toolchain finds the checkpoints (edgevc.export.checkpoint_io.shipped_dir) ------

def _installed_checkpoints(tmp_path, monkeypatch) -> Path:
    """An installed edgevc-checkpoints package, on sys.path."""
    site = tmp_path / "site"
    pkg = site / "edgevc_checkpoints"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('__version__ = "0"\n')
    monkeypatch.syspath_prepend(str(site))
    return pkg


def _plain_install(tmp_path, monkeypatch):
    """checkpoint_io as a plain install has it: in site-packages, with no project beside it
    (a folder an older wheel left there does not count)."""
    from edgevc.export import checkpoint_io

    export = tmp_path / "plain" / "edgevc" / "export"
    (export / "checkpoints").mkdir(parents=True)
    (export / "checkpoints" / "acoustic.pt").write_bytes(b"")
    monkeypatch.setattr(checkpoint_io, "__file__", str(export / "checkpoint_io.py"))
    return checkpoint_io


def test_a_source_tree_reads_its_own_checkpoints_first(tmp_path, monkeypatch):
    from edgevc.export.checkpoint_io import shipped_dir

    # a clone or an editable install: the checkpoints beside the code, even where an (older)
    # edgevc-checkpoints is installed too
    _installed_checkpoints(tmp_path, monkeypatch)
    assert shipped_dir() == CHECKPOINTS


def test_a_plain_install_reads_the_installed_checkpoints(tmp_path, monkeypatch):
    checkpoint_io = _plain_install(tmp_path, monkeypatch)
    installed = _installed_checkpoints(tmp_path, monkeypatch)
    assert checkpoint_io.shipped_dir() == installed.resolve()


def test_without_checkpoints_one_line_names_the_install_command(tmp_path, monkeypatch):
    from edgevc.errors import InputError

    checkpoint_io = _plain_install(tmp_path, monkeypatch)
    monkeypatch.setitem(sys.modules, "edgevc_checkpoints", None)  # not installed
    with pytest.raises(InputError) as e:
        checkpoint_io.shipped_dir()
    msg = str(e.value)
    assert "\n" not in msg
    assert "pip install ./export/checkpoints" in msg and "--checkpoints DIR" in msg
    assert checkpoint_io.CHECKPOINTS_INSTALL in msg


def test_export_without_checkpoints_is_one_line_and_checkpoints_dir_still_works(tmp_path):
    from edgevc.export.checkpoint_io import CHECKPOINTS_INSTALL

    fake = tmp_path / "plain" / "edgevc" / "export" / "checkpoint_io.py"
    code = ("import sys; sys.modules['edgevc_checkpoints'] = None\n"
            "import edgevc.export.checkpoint_io as c\n"
            f"c.__file__ = {str(fake)!r}\n"
            "from edgevc.cli import main\n"
            "main(sys.argv[1:])\n")
    out = tmp_path / "b"
    res = subprocess.run([sys.executable, "-c", code, "export", "--judge", "0", "-o", str(out)],
                         capture_output=True, timeout=300, cwd=tmp_path)
    lines = res.stderr.decode().strip().splitlines()
    assert res.returncode == 2, res.stderr.decode()
    assert len(lines) == 1 and CHECKPOINTS_INSTALL in lines[0], lines
    assert not out.exists()
    # --checkpoints DIR names them; the lookup is not made (a missing folder says so itself)
    res = subprocess.run([sys.executable, "-c", code, "export", "--checkpoints",
                          str(tmp_path / "none"), "-o", str(out)],
                         capture_output=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 2 and b"edgevc-checkpoints" not in res.stderr, res.stderr.decode()


# -- the wheels themselves (slow: builds both, as a release would) -----------------------------

@pytest.mark.slow
def test_the_device_wheel_holds_no_checkpoint_and_the_checkpoints_wheel_all(tmp_path):
    # from a copy of the files git has (tracked, or untracked and not ignored): an in-place
    # build reuses build/ and edgevc.egg-info/, which may hold an older layout's files
    src = tmp_path / "src"
    for path in _tracked_files(others=True):
        if path.is_file():
            dst = src / path.relative_to(ROOT)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(path.read_bytes())
    shipped = {p.name for p in (src / "export" / "checkpoints").iterdir()
               if p.name != "pyproject.toml"}
    out = tmp_path / "wheels"
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                          str(src), str(src / "export" / "checkpoints")],
                         capture_output=True, timeout=900)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    (device,) = out.glob("edgevc-*.whl")
    (ckpt,) = out.glob("edgevc_checkpoints-*.whl")
    names = zipfile.ZipFile(device).namelist()
    assert not [n for n in names if n.endswith(".pt") or "/checkpoints/" in n]
    # the runtime, the default bundle and the toolchain's code are there
    assert "edgevc/data/default_bundle/manifest.json" in names
    assert "edgevc/export/bundle_writer.py" in names and "edgevc/py.typed" in names
    in_wheel = {n.split("/", 1)[1] for n in zipfile.ZipFile(ckpt).namelist()
                if n.startswith("edgevc_checkpoints/")}
    assert in_wheel == shipped
    assert device.stat().st_size < 10e6, f"device wheel {device.stat().st_size / 1e6:.1f} MB"


# What a plain clone sees without any install: setuptools' editable finder (which maps
# edgevc.export to export/ in an editable install) is taken out before anything imports.
_WITHOUT_EDITABLE_FINDER = (
    "import sys; sys.meta_path = [f for f in sys.meta_path "
    "if getattr(f, '__name__', '') != '_EditableFinder']; "
)


def test_a_plain_clone_imports_the_toolchain_by_its_installed_names():
    code = _WITHOUT_EDITABLE_FINDER + (
        "import edgevc.export, edgevc.quantize, edgevc.firmware_configs as f; "
        "print(edgevc.export.__file__); print(edgevc.quantize.__file__); print(f.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert [Path(p).parent for p in out.stdout.split()] == [
        ROOT / "export", ROOT / "quantize", ROOT / "firmware_configs"]


def test_an_installed_runtime_searches_no_folder_beside_it(tmp_path):
    """Installed, edgevc/ sits in site-packages: nothing beside it is taken for the
    toolchain, whatever a folder there is called."""
    import shutil
    shutil.copytree(ROOT / "edgevc", tmp_path / "edgevc",
                    ignore=shutil.ignore_patterns("__pycache__", "default_bundle"))
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "__init__.py").write_text("")
    code = _WITHOUT_EDITABLE_FINDER + "import edgevc; print(len(edgevc.__path__))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1"]
