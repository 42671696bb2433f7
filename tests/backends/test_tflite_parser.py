"""benchmark_model output → LatencyStats, on a captured log in the real tool's format (older
builds print no 'INFO: ' prefix) and on the test device's own output."""
import pytest

from ofa_deploy.plugins.tflite.parser import BenchmarkOutputError, parse_benchmark_output

CAPTURED = """\
STARTING!
Log parameter values verbosely: [0]
Num threads: [4]
Graph: [/data/local/tmp/mobilenet_v3.tflite]
#threads used for CPU inference: [4]
Loaded model /data/local/tmp/mobilenet_v3.tflite
INFO: Initialized TensorFlow Lite runtime.
INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
The input model file size (MB): 22.0183
Initialized session in 43.225ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=71 first=7532 curr=6893 min=6807 max=8184 avg=7042.79 std=254

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=144 first=6894 curr=6910 min=6795 max=7395 avg=6943.9 std=93

Inference timings in us: Init: 43225, First inference: 7532, Warmup (avg): 7042.79, Inference (avg): 6943.9
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Memory footprint delta from the start of the tool (MB): init=6.53125 overall=13.1797
"""


def test_captured_log_to_latency_stats_in_ms():
    result = parse_benchmark_output(CAPTURED)
    assert [p.count for p in result.phases] == [71, 144]
    assert (result.init_us, result.first_us, result.warmup_avg_us, result.inference_avg_us) == (43225, 7532, 7042.79, 6943.9)
    stats = result.to_stats({"threads": 4}, "tflite-benchmark_model-cpu", "", "Pixel 4 (R58M)")
    assert stats.count == 144 and stats.mean == pytest.approx(6.9439) and stats.std == pytest.approx(0.093)
    assert (stats.min, stats.max) == (pytest.approx(6.795), pytest.approx(7.395))
    assert stats.mean < stats.p90 <= stats.max and stats.settings["first_inference_ms"] == pytest.approx(7.532)
    assert stats.settings["threads"] == 4 and "estimated" in stats.settings["percentiles"]


def test_info_prefixed_lines_and_exponents():
    text = "\n".join("INFO: " + line for line in CAPTURED.splitlines()).replace("avg=6943.9", "avg=1.2e+06")
    assert parse_benchmark_output(text).inference.avg == 1.2e6


def test_failed_run_on_the_test_device_is_reported(tmp_path):
    """(Its successful output is parsed end to end in test_adb.py.)"""
    from tests.adb_test_device.bench import run_benchmark

    lines = []
    run_benchmark(["--graph=/nope.tflite"], lambda p: tmp_path / p.lstrip("/"), lines.append)
    with pytest.raises(BenchmarkOutputError, match="printed no timings.*Benchmarking failed"):
        parse_benchmark_output("\n".join(lines))


def test_truncated_output_names_the_last_lines():
    cut = CAPTURED.split("Running benchmark for at least 50")[0]
    with pytest.raises(BenchmarkOutputError, match="ended with: .*count=71"):
        parse_benchmark_output(cut)
