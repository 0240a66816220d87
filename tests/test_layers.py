"""The layer rules, read from the source: what each part of edgevc may import.

- the runtime (everything under edgevc/) imports no torch and nothing of the toolchain
  (edgevc.export, edgevc.quantize); `edgevc export` is found by name when it is run;
- the text front end imports nothing of the runtime (it is handed sessions through
  edgevc.inference, which imports nothing of edgevc);
- the bundle format (edgevc.runtime.bundle) reaches no DSP: of edgevc.audio, only the
  parameters and the voicing model's data;
- playback (edgevc.playback: player, ring buffer, sinks, PortAudio) is one package that
  reaches no torch and nothing of the toolchain, and the text front end does not reach it.

Imports are read with ast, inside functions too, so an import that only runs on some path
counts as much as one at the top.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "edgevc"
TOOLCHAIN = ("edgevc.export", "edgevc.quantize")
HEAVY = ("torch",)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports (absolute names), with `from X import Y` counted as both
    X and X.Y (Y may be a submodule)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id == "__import__"))):
            found.add(node.args[0].value)
    return found


GRAPH = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _closure(start: str) -> set[str]:
    """The edgevc modules `start` reaches through edgevc modules."""
    seen, todo = set(), [start]
    while todo:
        mod = todo.pop()
        for dep in GRAPH.get(mod, ()):
            if dep in GRAPH and dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_the_graph_is_read():
    # the rules below hold for something: the parser sees the imports that are there
    assert len(GRAPH) > 40
    assert "edgevc.runtime.backends" in GRAPH["edgevc.runtime.synthesizer"]
    assert "edgevc.text.g2p" in _closure("edgevc.runtime.synthesizer")


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_runtime_imports_no_torch_and_no_toolchain(module):
    bad = sorted(m for m in GRAPH[module] if _under(m, TOOLCHAIN + HEAVY))
    assert not bad, f"{module} imports {bad}"


def test_text_imports_nothing_of_the_runtime():
    for module in (m for m in GRAPH if _under(m, ["edgevc.text"])):
        reached = sorted(m for m in _closure(module) if _under(m, ["edgevc.runtime"]))
        assert not reached, f"{module} reaches {reached}"


def test_playback_is_one_package_that_reaches_no_toolchain():
    playback = [m for m in GRAPH if _under(m, ["edgevc.playback"])]
    assert {"edgevc.playback.player", "edgevc.playback.ringbuffer", "edgevc.playback.sinks",
            "edgevc.playback.portaudio"} <= set(playback)
    # nothing of playback left elsewhere: no player, sink, ring buffer or PortAudio module
    # outside the package
    strays = sorted(m for m in GRAPH if not _under(m, ["edgevc.playback"])
                    and m.rpartition(".")[2] in {"player", "ringbuffer", "sinks", "portaudio"})
    assert not strays, strays
    for module in playback:
        # what it and every edgevc module it reaches import
        imported = set().union(*(GRAPH[m] for m in _closure(module) | {module}))
        bad = sorted(m for m in imported if _under(m, TOOLCHAIN + HEAVY))
        assert not bad, f"{module} reaches {bad}"


def test_text_does_not_reach_playback():
    for module in (m for m in GRAPH if _under(m, ["edgevc.text"])):
        reached = sorted(m for m in _closure(module) | GRAPH[module]
                         if _under(m, ["edgevc.playback"]))
        assert not reached, f"{module} reaches {reached}"


def test_the_inference_interface_is_below_everything():
    assert not [m for m in GRAPH["edgevc.inference"] if _under(m, ["edgevc"])]


def test_the_bundle_format_reaches_no_dsp():
    audio = sorted(m for m in _closure("edgevc.runtime.bundle") if _under(m, ["edgevc.audio"]))
    assert set(audio) <= {"edgevc.audio", "edgevc.audio.params", "edgevc.audio.voicing"}, audio


def test_importing_the_runtime_and_its_cli_loads_no_toolchain():
    code = (
        "import sys\n"
        "import edgevc, edgevc.voice, edgevc.cli\n"
        "from edgevc.voice import Voice, SynthesisConfig\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', "
        "'edgevc.export', 'edgevc.quantize', 'onnx.', 'tensorflow'))) or 'clean')\n"
        # --help lists `export`: that loads the toolchain's command module, never torch
        "from edgevc.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')) "
        "or 'clean')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "clean"
    assert res.stdout.splitlines()[-1] == "clean"


def _edits_sys_path(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if (isinstance(node, ast.Attribute) and node.attr == "path"
                and isinstance(node.value, ast.Name) and node.value.id == "sys"):
            return True
    return False


def test_benchmarks_and_tests_import_by_package_not_sys_path():
    # benchmarks/ is a package run as `python -m benchmarks.NAME`: its modules and the tests
    # import each other by name (benchmarks.machine, benchmarks.quality), never by sys.path
    files = sorted((ROOT / "benchmarks").glob("*.py")) + sorted((ROOT / "tests").rglob("*.py"))
    assert (ROOT / "benchmarks" / "__init__.py") in files
    bad = [str(p.relative_to(ROOT)) for p in files if _edits_sys_path(p)]
    assert not bad, bad
