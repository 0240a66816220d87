import dataclasses

import pytest

from edgevc.errors import InputError
from edgevc.runtime.profiles import DeviceProfile, detect_profile, list_profiles, load_profile

SHIPPED = {"raspberry-pi-4", "raspberry-pi-5", "jetson-nano", "jetson-orin-nano", "generic-x86"}

GOOD = """
name = "test-board"
description = "a board"
[match]
device_tree_model = ["Test Board"]
[inference]
backends = ["onnx-cuda", "onnx-cpu"]
precision = "fp16"
threads = 2
chunk_frames = 16
[buffer]
ring_seconds = 1.5
[memory]
budget_mb = 100
[audio]
frames_per_buffer = 512
"""


def test_all_shipped_profiles_load():
    assert SHIPPED <= set(list_profiles())
    for name in list_profiles():
        p = load_profile(name)
        assert isinstance(p, DeviceProfile) and p.name == name
        assert p.backends[-1] == "onnx-cpu"  # every device can fall back to the CPU
        assert p.threads >= 1 and p.ring_seconds > 0


def test_jetsons_prefer_gpu_fp16_and_pis_tflite_int8():
    for name in ("jetson-nano", "jetson-orin-nano"):
        p = load_profile(name)
        assert p.backends == ("onnx-tensorrt", "onnx-cuda", "onnx-cpu")
        assert p.precision == "fp16" and p.match_requires_cuda
    for name in ("raspberry-pi-4", "raspberry-pi-5"):
        p = load_profile(name)
        assert p.backends == ("tflite", "onnx-cpu") and p.precision == "int8"


def model_file(tmp_path, text):
    f = tmp_path / "model"
    f.write_bytes(text.encode() + b"\x00")  # device-tree strings end in NUL
    return f


@pytest.mark.parametrize("model,cuda,expected", [
    ("Raspberry Pi 4 Model B Rev 1.4", False, "raspberry-pi-4"),
    ("Raspberry Pi 5 Model B Rev 1.0", False, "raspberry-pi-5"),
    ("NVIDIA Jetson Orin Nano Developer Kit", True, "jetson-orin-nano"),
    ("NVIDIA Jetson Nano Developer Kit", True, "jetson-nano"),
])
def test_detect_from_device_tree(tmp_path, model, cuda, expected):
    p = detect_profile(model_file(tmp_path, model), cuda_available=cuda, machine="aarch64")
    assert p.name == expected


def test_jetson_without_cuda_is_not_detected_as_jetson(tmp_path):
    f = model_file(tmp_path, "NVIDIA Jetson Orin Nano Developer Kit")
    assert detect_profile(f, cuda_available=False, machine="aarch64").name == "generic-x86"


def test_detect_falls_back_to_generic(tmp_path):
    missing = tmp_path / "no-such-file"
    assert detect_profile(missing, cuda_available=False, machine="x86_64").name == "generic-x86"
    assert detect_profile(missing, cuda_available=False, machine="riscv64").name == "generic-x86"


def test_load_profile_from_path(tmp_path):
    f = tmp_path / "board.toml"
    f.write_text(GOOD)
    p = load_profile(f)
    assert p.name == "test-board" and p.backends == ("onnx-cuda", "onnx-cpu")
    assert p.audio_device == "" and p.match_arch == () and p.ring_samples(16000) == 24000
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.threads = 3


def test_unknown_name_lists_known_profiles():
    with pytest.raises(InputError, match=r"unknown device profile 'toaster'.*raspberry-pi-4"):
        load_profile("toaster")


@pytest.mark.parametrize("old,new,message", [
    ("threads = 2", "threads = 0", r"key 'inference.threads' must be a positive integer, got 0"),
    ("threads = 2", "threads = true", r"key 'inference.threads' must be a positive integer"),
    ("threads = 2", "", r"key 'inference.threads' is missing"),
    ("chunk_frames = 16", "chunk_frames = 16\nmax_chunk_frames = 8",
     r"key 'inference.max_chunk_frames' must be >= chunk_frames \(16\), got 8"),
    ('"onnx-cuda", ', '"onnx-npu", ', r"key 'inference.backends' has unknown entry 'onnx-npu'"),
    ('precision = "fp16"', 'precision = "int4"', r"key 'inference.precision' must be one of"),
    ("ring_seconds = 1.5", 'ring_seconds = "long"', r"key 'buffer.ring_seconds' must be a positive number"),
    ("[memory]\nbudget_mb = 100", "", r"key 'memory' is missing"),
    ("frames_per_buffer = 512", "frames_per_buffer = 512\nvolume = 3", r"key 'audio.volume' is not a known key"),
    ('device_tree_model = ["Test Board"]', 'device_tree_model = "Test Board"',
     r"key 'match.device_tree_model' must be a list of strings"),
])
def test_bad_values_name_the_key(tmp_path, old, new, message):
    f = tmp_path / "bad.toml"
    assert old in GOOD
    f.write_text(GOOD.replace(old, new))
    with pytest.raises(InputError, match=message) as ei:
        load_profile(f)
    assert str(f) in str(ei.value) and "\n" not in str(ei.value)


def test_toml_syntax_error_names_file_and_line(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text(GOOD.replace("threads = 2", "threads = = 2"))
    with pytest.raises(InputError, match=r"broken.toml: invalid TOML.*line 9,"):
        load_profile(f)


def test_missing_path():
    with pytest.raises(InputError, match="not found"):
        load_profile("/nonexistent/board.toml")
