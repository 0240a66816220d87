"""The bundle's float ONNX graphs -> TFLite (fp32, fp16, int8), converted in an isolated venv.

Route, and why: TensorFlow's converter is the tool that writes TFLite, and it must not
share an environment with the toolchain (its numpy/protobuf pins clash with torch and
onnxruntime here). So the conversion runs in a venv of its own (`converter_env()`: by
default ~/.cache/edgevc/tflite-venv, built once with pinned tensorflow-cpu, onnx and
numpy), as this file run as a script. The two ready-made front ends were tried first:
- onnx2tf 1.29.24 (the newest pip offers for Python 3.11) fails on these graphs: its
  NCW->NWC layout inference mis-assigns the LayerNorm axis after the (B,T,C)<->(B,C,T)
  transposes around every Conv1d, with dynamic and with fixed input shapes alike;
- litert-torch (0.10 accepts torch 2.13) was not tried: it brings jax, transformers,
  kagglehub, torchao and litert-lm-builder into the environment.
The graphs use about 30 plain ONNX operators, so a small translator below (ONNX node ->
TensorFlow op, same layout, time axes left dynamic) builds a tf.function that the TF Lite
converter takes as is. Every artifact is checked against its ONNX graph by the caller.

Precisions: fp32; fp16 (fp16 weights, dequantized on load on CPUs); int8 = dynamic-range
quantization (int8 per-channel weights, activations quantized on the fly by XNNPACK,
everything but FULLY_CONNECTED/CONV in float: the same split as the ONNX int8 graphs).
Full-integer int8 ("int8-full", calibrated with a representative dataset) is kept for
comparison only: against the float graphs it fails the export's limits (acoustic encoder
log-duration MAE 0.107 > 0.08, vocoder 25.7 dB log-spectral distance > 1.5) where
dynamic range passes (0.006, 1.17 dB); see benchmarks/results/tflite.md.

This module imports only the standard library and numpy at the top: the host side runs in
the toolchain's environment, the worker side (`_worker_main`) in the converter venv.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# The converter environment, pinned to what these graphs were verified with; TF 2.19's
# wheels want numpy < 2.2 and protobuf < 6, which is why it cannot share the toolchain's.
CONVERTER_PINS = ("tensorflow-cpu==2.19.0", "onnx==1.19.1", "numpy==1.26.4")
PRECISIONS = ("fp32", "fp16", "int8", "int8-full")


# ---------------------------------------------------------------------------------------
# Host side (the toolchain's environment)
# ---------------------------------------------------------------------------------------

def default_env_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgevc" / "tflite-venv"


def _env_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _pins_stamp() -> str:
    return "\n".join(CONVERTER_PINS) + "\n"


def _private(env: Path) -> bool:
    """True when `env` and its parent are real folders of this user that no one else can
    write to (POSIX; elsewhere nothing is checked)."""
    if os.name != "posix":
        return True
    for d in (env, env.parent):
        st = os.lstat(d)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
            return False
    return True


def converter_env(env: str | Path | None = None) -> Path:
    """The converter venv's python, creating the venv (minutes, ~1.6 GB) when missing or
    made by edgevc with other pins. Built beside its final path and renamed, so a failed
    build leaves nothing half-made. A venv edgevc did not make is used as it is only when
    the user names it (`--tflite-env`); the default one must be ours and private, since
    its python is run."""
    from edgevc.errors import EdgevcError, InputError

    named = env is not None
    env = Path(env) if env else default_env_dir()
    stamp = env / "edgevc-pins.txt"
    if not named and env.exists() and not _private(env):
        raise InputError(f"TFLite converter environment {env}: others can write to it, so it "
                         "is not run; remove it (edgevc builds a new one) or name one with "
                         "--tflite-env")
    if stamp.is_file() and stamp.read_text() == _pins_stamp() and _env_python(env).exists():
        return _env_python(env)
    if env.exists() and not stamp.is_file():
        # Not ours: never delete it. A venv someone made with TensorFlow is used as is,
        # but only when named: one that appeared at the default path is not run.
        if _env_python(env).exists() and named:
            log.info("using the TFLite converter environment %s as it is", env)
            return _env_python(env)
        if _env_python(env).exists():
            raise InputError(f"TFLite converter environment {env}: edgevc did not make it, so "
                             f"it is not run; name it with --tflite-env to use it, or remove it")
        raise InputError(f"TFLite converter environment {env}: exists and is not a venv")
    env.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{env.name}.", dir=env.parent))
    log.info("creating the TFLite converter environment %s (%s)", env, ", ".join(CONVERTER_PINS))
    try:
        # A venv's paths are absolute: build it at its final name inside tmp, move it after.
        build = tmp / env.name
        subprocess.run([sys.executable, "-m", "venv", str(build)], check=True,
                       capture_output=True, text=True)
        r = subprocess.run([str(_env_python(build)), "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", *CONVERTER_PINS],
                           capture_output=True, text=True)
        if r.returncode != 0:
            tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
            raise EdgevcError(f"cannot build the TFLite converter environment: pip failed "
                              f"({tail[0][:300]})")
        (build / "edgevc-pins.txt").write_text(_pins_stamp())
        # Scripts in bin/ hard-code the build path, but `bin/python -m ...` (all we use)
        # finds its site-packages relative to itself, so the venv survives the rename.
        if env.exists():
            shutil.rmtree(env)
        os.replace(build, env)
    except subprocess.CalledProcessError as e:
        raise EdgevcError(f"cannot build the TFLite converter environment: {e.stderr or e}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _env_python(env)


def _save_feeds(path: Path, feeds: list[dict[str, np.ndarray]]) -> None:
    arrays = {f"{i}/{k}": v for i, f in enumerate(feeds) for k, v in f.items()}
    np.savez(path, **arrays)


def _load_feeds(path: Path) -> list[dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as z:
        out: dict[int, dict] = {}
        for key in z.files:
            i, name = key.split("/", 1)
            out.setdefault(int(i), {})[name] = z[key]
    return [out[i] for i in sorted(out)]


def convert_graphs(jobs: list[dict], out_dir: Path, env: str | Path | None = None,
                   timeout: float = 3600) -> dict[str, dict]:
    """Convert ONNX graphs to TFLite in the converter venv.

    Each job: {"role", "onnx" (path), "precisions" (subset of PRECISIONS), "calibration"
    (list of feed dicts; only "int8-full" needs it)}. Writes `{role}.{precision}.tflite` into
    out_dir; returns role -> precision -> file name.
    """
    from edgevc.errors import EdgevcError

    python = converter_env(env)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgevc-tflite-") as work:
        work = Path(work)
        spec = []
        for j in jobs:
            bad = set(j["precisions"]) - set(PRECISIONS)
            if bad:
                raise ValueError(f"unknown TFLite precision(s) {sorted(bad)}")
            cal = None
            if j.get("calibration"):
                cal = str(work / f"{j['role']}.cal.npz")
                _save_feeds(Path(cal), j["calibration"])
            spec.append({"role": j["role"], "onnx": str(Path(j["onnx"]).resolve()),
                         "precisions": list(j["precisions"]), "calibration": cal})
        job_file = work / "job.json"
        job_file.write_text(json.dumps({"jobs": spec, "out": str(out_dir.resolve())}))
        env_vars = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONNOUSERSITE": "1"}
        env_vars.pop("PYTHONPATH", None)  # nothing from the toolchain's site may leak in
        r = subprocess.run([str(python), str(Path(__file__).resolve()), str(job_file)],
                           capture_output=True, text=True, env=env_vars, timeout=timeout)
        result_file = out_dir / "tflite-result.json"
        if r.returncode != 0 or not result_file.is_file():
            lines = [s for s in (r.stderr or r.stdout).strip().splitlines() if s.strip()]
            cause = lines[-1] if lines else f"exit code {r.returncode}"
            log.debug("TFLite converter output:\n%s", r.stderr)
            raise EdgevcError(f"TFLite conversion failed: {cause[:300]}")
        result = json.loads(result_file.read_text())
        result_file.unlink()
    return result


FORMATS = ("onnx", "tflite", "all")
_OWN = {"int8": "int8", "fp16": "fp16", "none": "fp32"}


def wanted_precisions(fmt: str, quantize: str) -> list[str]:
    """TFLite precisions for `--format`: none for onnx; the --quantize precision for
    tflite; int8 and fp16 (and fp32 with --quantize none) for all."""
    if fmt == "onnx":
        return []
    if fmt == "tflite":
        return [_OWN[quantize]]
    return [p for p in PRECISIONS if p in {_OWN[quantize], "int8", "fp16"}]


def require_interpreter() -> None:
    """TFLite artifacts are checked with the runtime's own interpreter: fail early without it."""
    from edgevc.errors import InputError
    from edgevc.runtime.tflite_backend import load_interpreter_class

    try:
        load_interpreter_class()
    except ImportError as e:
        raise InputError(f"--format tflite/all checks the TFLite graphs with the runtime: {e}") from None


def build_tflite(fp32_dir: Path, out_dir: Path, graphs: dict, feeds: dict, reference: dict,
                 precisions: list[str], judge, env: str | Path | None = None) -> dict:
    """Convert each graph in `graphs` (role -> manifest entry of its float ONNX file in
    fp32_dir) to TFLite at `precisions`, check each file with the runtime's TFLite session
    on `feeds[role]` against `reference[role]` (float ONNX outputs) through
    judge(role, ref, got) -> (check dict, exceeded), and keep the ones that pass.

    An int8 graph past its limit is dropped with a warning and its role gets fp16
    instead (as the ONNX path keeps a sensitive graph in float); any other failure is an
    error. Adds "variants" to each graph entry; returns role -> precision -> check.
    """
    from edgevc.errors import EdgevcError
    from edgevc.runtime.tflite_backend import TFLiteSession

    ask = list(precisions)
    if "int8" in ask and "fp16" not in ask:
        ask.append("fp16")  # converted in the same run; kept only if an int8 graph fails
    with tempfile.TemporaryDirectory(prefix="edgevc-tflite-out-") as work:
        work = Path(work)
        jobs = [{"role": r, "onnx": fp32_dir / g["file"], "precisions": ask} for r, g in graphs.items()]
        made = convert_graphs(jobs, work, env)
        checks: dict[str, dict] = {}
        for role, g in graphs.items():
            role_checks = {}
            for precision in ask:
                sess = TFLiteSession(work / made[role][precision], 1, g["inputs"], g["outputs"])
                got = [sess.run(f) for f in feeds[role]]
                err = max(float(np.abs(a - b).max()) for r, o in zip(reference[role], got)
                          for a, b in zip(r, o))
                entry, exceeded = judge(role, reference[role], got)
                role_checks[precision] = {**entry, "max_abs_error_vs_onnx_fp32": err}
                if exceeded and precision != "int8":
                    raise EdgevcError(f"TFLite check failed: {role} {precision} {entry['metric']} "
                                      f"{entry['value']:.4f} is past its limit {entry['limit']}")
                if exceeded:
                    log.warning("TFLite %s int8 loses too much (%s %.3f, limit %s); using fp16",
                                role, entry["metric"], entry["value"], entry["limit"])
                    role_checks[precision]["dropped"] = True
            keep = [p for p in precisions if not role_checks[p].get("dropped")]
            if "fp16" not in keep and role_checks.get("int8", {}).get("dropped"):
                keep.append("fp16")
            g["variants"] = []
            for precision in keep:
                name = f"{role}.{precision}.tflite"
                shutil.move(str(work / made[role][precision]), out_dir / name)
                g["variants"].append({"file": name, "format": "tflite", "precision": precision,
                                      **({"quantization": "dynamic-range"} if precision == "int8" else {})})
            checks[role] = {p: c for p, c in role_checks.items() if p in keep or c.get("dropped")}
    return checks


# ---------------------------------------------------------------------------------------
# Worker side (the converter venv): ONNX -> tf.function -> TFLite
# ---------------------------------------------------------------------------------------

class _Translator:
    """Evaluates an ONNX graph with TensorFlow ops inside a tf.function trace.

    Constant subgraphs (shape arithmetic) are folded with numpy via onnx's reference
    evaluator. 3-D tensors keep ONNX's layout; a Conv1d sees (B,C,T) in ONNX and runs as
    NWC in TF, and the transposes that feed and follow it are matched away rather than
    emitted twice.
    """

    def __init__(self, model):
        import onnx
        from onnx import numpy_helper

        self.onnx = onnx
        self.model = model
        self.consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.values: dict = {}
        self.nwc: dict = {}  # name -> the same tensor with its last two axes swapped
        self.gelu = self._find_gelus()

    def _find_gelus(self) -> dict:
        """Erf-GELU chains: x/sqrt2 -> Erf -> +1 -> *x -> *0.5, keyed by their last node."""
        nodes = self.model.graph.node
        producer = {o: n for n in nodes for o in n.output}
        consumers: dict[str, list] = {}
        for n in nodes:
            for i in n.input:
                consumers.setdefault(i, []).append(n)
        found = {}
        for erf in (n for n in nodes if n.op_type == "Erf"):
            div = producer.get(erf.input[0])
            if div is None or div.op_type != "Div":
                continue
            x = div.input[0]
            chain = [div, erf]
            cur = erf
            for op in ("Add", "Mul", "Mul"):
                nxt = consumers.get(cur.output[0], [])
                if len(nxt) != 1 or nxt[0].op_type != op:
                    break
                chain.append(nxt[0])
                cur = nxt[0]
            else:
                if x in chain[3].input:
                    found[chain[-1].output[0]] = (x, {n.output[0] for n in chain[:-1]})
        return found

    # -- tensors
    def get(self, name):
        import tensorflow as tf

        if name in self.consts:
            return self.consts[name]
        if name not in self.values:
            self.values[name] = tf.transpose(self.nwc[name], [0, 2, 1])
        return self.values[name]

    def get_nwc(self, name):
        import tensorflow as tf

        if name not in self.nwc:
            self.nwc[name] = tf.transpose(self.get(name), [0, 2, 1])
        return self.nwc[name]

    def run(self, feeds: dict) -> dict:
        import tensorflow as tf

        self.values, self.nwc = dict(feeds), {}
        skip = set().union(*(s for _, s in self.gelu.values())) if self.gelu else set()
        for node in self.model.graph.node:
            if node.output[0] in skip:
                continue
            if node.output[0] in self.gelu:
                x = self.gelu[node.output[0]][0]
                self.values[node.output[0]] = tf.nn.gelu(self.get(x), approximate=False)
                continue
            if all((not i) or i in self.consts for i in node.input) and node.op_type != "Shape":
                self._fold(node)
                continue
            getattr(self, f"op_{node.op_type}")(node)
        return {o.name: self.get(o.name) for o in self.model.graph.output}

    def _fold(self, node):
        from onnx.reference import ReferenceEvaluator

        graph = self.onnx.helper.make_graph(
            [node], "fold", [self.onnx.helper.make_tensor_value_info(i, 0, None) for i in node.input if i],
            [self.onnx.helper.make_tensor_value_info(o, 0, None) for o in node.output])
        m = self.onnx.helper.make_model(graph, opset_imports=self.model.opset_import)
        outs = ReferenceEvaluator(m).run(None, {i: self.consts[i] for i in node.input if i})
        for o, v in zip(node.output, outs):
            self.consts[o] = np.asarray(v)

    def _attrs(self, node) -> dict:
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def _set(self, node, value, i=0):
        self.values[node.output[i]] = value

    # -- operators
    def _binary(self, node, fn):
        a, b = (self.get(i) for i in node.input)
        self._set(node, fn(a, b))

    def op_Add(self, n):
        self._binary(n, lambda a, b: a + b)

    def op_Sub(self, n):
        self._binary(n, lambda a, b: a - b)

    def op_Mul(self, n):
        self._binary(n, lambda a, b: a * b)

    def op_Div(self, n):
        self._binary(n, lambda a, b: a / b)

    def op_Pow(self, n):
        import tensorflow as tf

        x, p = self.get(n.input[0]), self.get(n.input[1])
        self._set(n, tf.square(x) if np.ndim(p) == 0 and float(p) == 2.0 else tf.pow(x, p))

    def _unary(self, n, fn):
        self._set(n, fn(self.get(n.input[0])))

    def op_Sqrt(self, n):
        import tensorflow as tf
        self._unary(n, tf.sqrt)

    def op_Exp(self, n):
        import tensorflow as tf
        self._unary(n, tf.exp)

    def op_Cos(self, n):
        import tensorflow as tf
        self._unary(n, tf.cos)

    def op_Sin(self, n):
        import tensorflow as tf
        self._unary(n, tf.sin)

    def op_Relu(self, n):
        import tensorflow as tf
        self._unary(n, tf.nn.relu)

    def op_Erf(self, n):
        import tensorflow as tf
        self._unary(n, tf.math.erf)

    def op_Clip(self, n):
        import tensorflow as tf

        x = self.get(n.input[0])
        lo = self.get(n.input[1]) if len(n.input) > 1 and n.input[1] else None
        hi = self.get(n.input[2]) if len(n.input) > 2 and n.input[2] else None
        if lo is not None:
            x = tf.maximum(x, lo)
        if hi is not None:
            x = tf.minimum(x, hi)
        self._set(n, x)

    def op_Transpose(self, n):
        import tensorflow as tf

        perm = list(self._attrs(n)["perm"])
        src = n.input[0]
        if perm == [0, 2, 1]:
            # (B,T,C) <-> (B,C,T) around a Conv: reuse the other layout when it exists.
            if src in self.nwc:
                self.values[n.output[0]] = self.nwc[src]
                if src in self.values:
                    self.nwc[n.output[0]] = self.values[src]
                return
            self.nwc[n.output[0]] = self.get(src)
            return
        self._set(n, tf.transpose(self.get(src), perm))

    def op_Conv(self, n):
        import tensorflow as tf

        a = self._attrs(n)
        w = self.consts[n.input[1]]  # (out, in/groups, k)
        b = self.consts.get(n.input[2]) if len(n.input) > 2 else None
        if w.ndim != 3:
            raise NotImplementedError(f"{n.name}: only 1-D convolutions are supported")
        k, group = w.shape[2], int(a.get("group", 1))
        d, s = int(a.get("dilations", [1])[0]), int(a.get("strides", [1])[0])
        p0, p1 = (int(v) for v in a.get("pads", [0, 0]))
        x = self.get_nwc(n.input[0])  # (B, T, C)
        same = s == 1 and p0 == p1 and p0 + p1 == d * (k - 1)
        if not same and (p0 or p1):
            x = tf.pad(x, [[0, 0], [p0, p1], [0, 0]])
        padding = "SAME" if same else "VALID"
        if group == 1:
            y = tf.nn.conv1d(x, np.ascontiguousarray(w.transpose(2, 1, 0)), stride=s,
                             padding=padding, dilations=d)
        elif group == w.shape[0] and w.shape[1] == 1:
            filt = np.ascontiguousarray(w[:, 0, :].T[None, :, :, None])  # (1, k, C, 1)
            # The native op keeps the dilation (tf.nn.depthwise_conv2d would wrap it in
            # space-to-batch ops); TFLite's DEPTHWISE_CONV_2D takes it as is.
            y = tf.raw_ops.DepthwiseConv2dNative(
                input=tf.expand_dims(x, 1), filter=filt, strides=[1, 1, s, 1],
                padding=padding, dilations=[1, 1, d, 1])
            y = tf.squeeze(y, [1])
        else:
            raise NotImplementedError(f"{n.name}: grouped convolution with group={group}")
        if b is not None:
            y = y + b
        self.nwc[n.output[0]] = y

    def op_LayerNormalization(self, n):
        import tensorflow as tf

        a = self._attrs(n)
        if int(a.get("axis", -1)) != -1:
            raise NotImplementedError(f"{n.name}: LayerNormalization over axis {a['axis']}")
        x = self.get(n.input[0])
        mean = tf.reduce_mean(x, -1, keepdims=True)
        var = tf.reduce_mean(tf.math.squared_difference(x, mean), -1, keepdims=True)
        y = (x - mean) * tf.math.rsqrt(var + float(a.get("epsilon", 1e-5)))
        y = y * self.consts[n.input[1]]
        if len(n.input) > 2 and n.input[2]:
            y = y + self.consts[n.input[2]]
        self._set(n, y)

    def op_MatMul(self, n):
        import tensorflow as tf

        x, w = self.get(n.input[0]), self.get(n.input[1])
        if isinstance(w, np.ndarray) and w.ndim == 2 and len(x.shape) == 3:
            # (B,T,C) @ (C,D) as a 2-D product: becomes one FULLY_CONNECTED in TFLite.
            y = tf.matmul(tf.reshape(x, [-1, w.shape[0]]), w)
            lead = list(x.shape[:-1])
            if lead.count(None) <= 1:  # a static target shape needs no shape arithmetic
                target = [-1 if v is None else v for v in lead] + [w.shape[1]]
            else:
                target = tf.concat([tf.shape(x)[:-1], [w.shape[1]]], 0)
            self._set(n, tf.reshape(y, target))
        else:
            self._set(n, tf.matmul(x, w))

    def op_Gemm(self, n):
        import tensorflow as tf

        a = self._attrs(n)
        x, w = self.get(n.input[0]), self.get(n.input[1])
        y = tf.matmul(x, w, transpose_a=bool(a.get("transA", 0)),
                      transpose_b=bool(a.get("transB", 0)))
        y = y * float(a.get("alpha", 1.0)) if float(a.get("alpha", 1.0)) != 1.0 else y
        if len(n.input) > 2 and n.input[2]:
            y = y + float(a.get("beta", 1.0)) * self.get(n.input[2])
        self._set(n, y)

    def op_Gather(self, n):
        import tensorflow as tf

        data, idx = self.get(n.input[0]), self.get(n.input[1])
        self._set(n, tf.gather(data, idx, axis=int(self._attrs(n).get("axis", 0))))

    def op_ReduceMean(self, n):
        import tensorflow as tf

        a = self._attrs(n)
        axes = list(a["axes"]) if "axes" in a else (list(self.consts[n.input[1]]) if len(n.input) > 1 else None)
        self._set(n, tf.reduce_mean(self.get(n.input[0]), axes, keepdims=bool(a.get("keepdims", 1))))

    def op_ReduceSum(self, n):
        import tensorflow as tf

        a = self._attrs(n)
        axes = [int(v) for v in self.consts[n.input[1]]] if len(n.input) > 1 and n.input[1] else None
        self._set(n, tf.reduce_sum(self.get(n.input[0]), axes, keepdims=bool(a.get("keepdims", 1))))

    def op_Unsqueeze(self, n):
        import tensorflow as tf

        x = self.get(n.input[0])
        rank = len(x.shape) + len(self.consts[n.input[1]])
        for ax in sorted(int(v) % rank for v in self.consts[n.input[1]]):
            x = tf.expand_dims(x, ax)
        self._set(n, x)

    def op_Squeeze(self, n):
        import tensorflow as tf

        axes = [int(v) for v in self.consts[n.input[1]]] if len(n.input) > 1 else None
        self._set(n, tf.squeeze(self.get(n.input[0]), axes))

    def op_Concat(self, n):
        import tensorflow as tf

        self._set(n, tf.concat([self.get(i) for i in n.input], int(self._attrs(n)["axis"])))

    def op_Shape(self, n):
        import tensorflow as tf

        x = self.get(n.input[0])
        if isinstance(x, np.ndarray) or None not in x.shape:
            self.consts[n.output[0]] = np.array(x.shape, np.int64)
        else:
            self._set(n, tf.shape(x, out_type=tf.int64))

    def op_Slice(self, n):
        import tensorflow as tf

        x = self.get(n.input[0])
        starts, ends = self.get(n.input[1]), self.get(n.input[2])
        rank = len(x.shape)
        count = int(starts.shape[0])
        axes = [int(a) % rank for a in self.consts[n.input[3]]] \
            if len(n.input) > 3 and n.input[3] else list(range(count))
        steps = [int(v) for v in self.consts[n.input[4]]] \
            if len(n.input) > 4 and n.input[4] else [1] * count
        big = np.iinfo(np.int64).max // 2
        if isinstance(starts, np.ndarray) and isinstance(ends, np.ndarray):
            index = [slice(None)] * rank
            for ax, st, en, sp in zip(axes, starts, ends, steps):
                index[ax] = slice(int(st), None if int(en) >= big else int(en), int(sp))
            self._set(n, x[tuple(index)])
            return
        # Bounds computed in the graph (from a dynamic shape): one strided slice.
        begin, end = [0] * rank, [0] * rank
        stride, free = [1] * rank, set(range(rank)) - set(axes)
        for j, ax in enumerate(axes):
            begin[ax] = tf.cast(starts[j], tf.int32)
            end[ax] = tf.cast(tf.minimum(tf.cast(ends[j], tf.int64), 2**31 - 1), tf.int32)
            stride[ax] = steps[j]
        mask = sum(1 << a for a in free)
        self._set(n, tf.strided_slice(x, tf.stack(begin), tf.stack(end), stride,
                                      begin_mask=mask, end_mask=mask))

    def op_Cast(self, n):
        import tensorflow as tf

        to = {1: tf.float32, 6: tf.int32, 7: tf.int64, 9: tf.bool}[int(self._attrs(n)["to"])]
        self._set(n, tf.cast(self.get(n.input[0]), to))

    def op_Identity(self, n):
        self._set(n, self.get(n.input[0]))

    def op_Reciprocal(self, n):
        import tensorflow as tf
        self._unary(n, tf.math.reciprocal)

    def op_Neg(self, n):
        import tensorflow as tf
        self._unary(n, tf.negative)

    def op_Sigmoid(self, n):
        import tensorflow as tf
        self._unary(n, tf.sigmoid)

    def op_Tanh(self, n):
        import tensorflow as tf
        self._unary(n, tf.tanh)

    def op_Log(self, n):
        import tensorflow as tf
        self._unary(n, tf.math.log)

    def op_Softmax(self, n):
        import tensorflow as tf

        self._set(n, tf.nn.softmax(self.get(n.input[0]), axis=int(self._attrs(n).get("axis", -1))))

    def op_ConstantOfShape(self, n):
        import tensorflow as tf
        from onnx import numpy_helper

        a = self._attrs(n)
        value = numpy_helper.to_array(a["value"]).reshape(()) if "value" in a else np.float32(0)
        self._set(n, tf.fill(self.get(n.input[0]), tf.constant(value)))

    def op_Reshape(self, n):
        import tensorflow as tf

        shape = self.get(n.input[1])
        if isinstance(shape, np.ndarray) and 0 in shape:  # ONNX 0: keep that dimension
            x = self.get(n.input[0])
            shape = [x.shape[i] if v == 0 else int(v) for i, v in enumerate(shape)]
            shape = [-1 if v is None else v for v in shape]
        self._set(n, tf.reshape(self.get(n.input[0]), shape))

    def op_Expand(self, n):
        import tensorflow as tf

        x = self.get(n.input[0])
        self._set(n, x * tf.ones(self.get(n.input[1]), dtype=x.dtype))

    def op_Split(self, n):
        import tensorflow as tf

        axis = int(self._attrs(n).get("axis", 0))
        sizes = [int(v) for v in self.consts[n.input[1]]] if len(n.input) > 1 and n.input[1] \
            else len(n.output)
        for i, part in enumerate(tf.split(self.get(n.input[0]), sizes, axis=axis)):
            self._set(n, part, i)


def _tf_dtype(elem_type: int):
    import tensorflow as tf

    return {1: tf.float32, 7: tf.int64, 6: tf.int32}[elem_type]


def _saved_model(onnx_path: Path, out: Path):
    """Translate one ONNX graph into a SavedModel whose serving signature keeps its names."""
    import onnx
    import tensorflow as tf

    model = onnx.load(str(onnx_path))
    specs = []
    for i in model.graph.input:
        t = i.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        specs.append(tf.TensorSpec(shape, _tf_dtype(t.elem_type), name=i.name))
    names = [i.name for i in model.graph.input]
    translator = _Translator(model)

    @tf.function(input_signature=specs, autograph=False)
    def serve(*args):
        return translator.run(dict(zip(names, args)))

    module = tf.Module()
    module.serve = serve
    tf.saved_model.save(module, str(out), signatures={"serving_default": serve.get_concrete_function()})


def _convert(saved: Path, precision: str, calibration: list[dict] | None) -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if precision == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]  # no representative data: dynamic range
    elif precision == "int8-full":
        if not calibration:
            raise ValueError("int8-full needs calibration feeds")
        conv.optimizations = [tf.lite.Optimize.DEFAULT]

        def representative():
            for feed in calibration:
                yield {k: v for k, v in feed.items()}

        conv.representative_dataset = representative
    return conv.convert()


def _worker_main(job_file: str) -> int:
    job = json.loads(Path(job_file).read_text())
    out = Path(job["out"])
    result: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="edgevc-sm-") as tmp:
        for j in job["jobs"]:
            saved = Path(tmp) / j["role"]
            _saved_model(Path(j["onnx"]), saved)
            cal = _load_feeds(Path(j["calibration"])) if j.get("calibration") else None
            for precision in j["precisions"]:
                data = _convert(saved, precision, cal)
                name = f"{j['role']}.{precision}.tflite"
                (out / name).write_bytes(data)
                result.setdefault(j["role"], {})[precision] = name
                print(f"{name}: {len(data) / 1e6:.2f} MB", file=sys.stderr)
    (out / "tflite-result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(_worker_main(sys.argv[1]))
