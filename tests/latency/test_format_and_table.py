"""Official table format, the vectorized predictor, calibration and bad inputs."""
import numpy as np
import pytest
import yaml

from ofa_deploy.arch import ArchBatch
from ofa_deploy.latency import LatencyTable, MissingOpsError
from ofa_deploy.latency.builder import unique_ops
from ofa_deploy.latency.calibration import fit_calibration
from ofa_deploy.latency.format import TableFormatError, read_table_folder
from ofa_deploy.supernets.mbv3 import W12, TINY

W12_NAME = W12.name


def write_official_fixture(folder, supernet=W12_NAME, resolutions=(160, 176), with_var=False):
    """An official-format table (count/mean/std, 96 keys per resolution for w1.2), op cost ~ MACs."""
    folder.mkdir(parents=True, exist_ok=True)
    for r in resolutions:
        table = {}
        for rr, op in unique_ops(supernet, [r]):
            ms = 0.05 + op.macs / 2e7
            table[op.key] = {"count": 50, "mean": ms, ("var" if with_var else "std"): 0.01 * ms}
        (folder / f"{r}_lookup_table.yaml").write_text(yaml.safe_dump(table))
    return folder


def test_official_fixture_has_96_keys_and_official_key_strings(tmp_path):
    entries = read_table_folder(write_official_fixture(tmp_path / "note10"))
    assert sorted(entries) == [160, 176] and all(len(t) == 96 for t in entries.values())
    keys = entries[160]
    assert "Conv-input:160x160x3-output:80x80x24" in keys
    assert "expanded_conv-input:80x80x24-output:80x80x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0" in keys
    assert "Logits-input:1x1x1536-output:1000" in keys and "Conv_2-input:1x1x1152-output:1x1x1536" in keys


def test_loads_unchanged_and_round_trips(tmp_path):
    t = LatencyTable.load(write_official_fixture(tmp_path / "a", with_var=True))
    assert t.supernet == W12_NAME and t.source == "official"  # inferred from the stem width, no provenance
    t.save(tmp_path / "b")
    again = LatencyTable.load(tmp_path / "b")
    archs = ArchBatch.sample(W12.space, 50, rng=0, resolutions=(160, 176))
    assert np.array_equal(t.predict(archs), again.predict(archs))
    raw = yaml.safe_load((tmp_path / "b" / "160_lookup_table.yaml").read_text())
    assert list(next(iter(raw.values())))[:3] == ["count", "mean", "std"]


def test_vectorized_equals_scalar_official_rule(tmp_path):
    t = LatencyTable.load(write_official_fixture(tmp_path / "a"))
    batch = ArchBatch.sample(W12.space, 3000, rng=1, resolutions=(160, 176))
    vec = t.predict(batch)
    for i, a in enumerate(batch.to_archs()[:60]):
        by_hand = sum(t.entries[a.r][op.key]["mean"] for op in W12.arch_ops(a))
        assert vec[i] == pytest.approx(by_hand, rel=1e-12)
        assert t.predict(a) == pytest.approx(by_hand, rel=1e-12)


def test_calibration_learns_overhead():
    rng = np.random.default_rng(0)
    s = rng.uniform(5, 50, 40)
    n = rng.integers(10, 26, 40)
    measured = 0.9 * s - 0.02 * n + 1.0
    cal = fit_calibration(s, n, measured)
    assert cal.mape_after < 1e-6 < cal.mape_before
    assert (cal.a, cal.c, cal.b) == pytest.approx((0.9, -0.02, 1.0))


def test_missing_ops_are_named_with_the_fix(tmp_path):
    folder = write_official_fixture(tmp_path / "a", resolutions=(160,))
    text = (folder / "160_lookup_table.yaml").read_text().splitlines()
    data = yaml.safe_load("\n".join(text))
    victim = W12.block_op(160, 0, 7, 6).key
    del data[victim]
    (folder / "160_lookup_table.yaml").write_text(yaml.safe_dump(data))
    t = LatencyTable.load(folder)
    arch = W12.space.largest(160)
    with pytest.raises(MissingOpsError) as err:
        t.predict(arch)
    assert victim in str(err.value) and "ofa-deploy lut build" in str(err.value)
    assert t.predict(W12.space.smallest(160)) > 0  # archs inside the table still work


def test_resolution_outside_the_table(tmp_path):
    t = LatencyTable.load(write_official_fixture(tmp_path / "a"))
    with pytest.raises(Exception, match=r"resolution\(s\) \[224\].*\[160, 176\]"):
        t.predict(W12.space.largest(224))


def test_truncated_yaml_names_file_and_line(tmp_path):
    folder = write_official_fixture(tmp_path / "a", resolutions=(160,))
    f = folder / "160_lookup_table.yaml"
    f.write_text(f.read_text()[:-700] + "  mean: [unclosed\n")
    with pytest.raises(TableFormatError, match=r"160_lookup_table.yaml: line \d+"):
        LatencyTable.load(folder)


def test_hand_edited_entry_names_line(tmp_path):
    folder = write_official_fixture(tmp_path / "a", resolutions=(160,))
    f = folder / "160_lookup_table.yaml"
    lines = f.read_text().splitlines()
    i = next(i for i, l in enumerate(lines) if l.strip().startswith("mean:") and i > 20)
    lines[i] = "  mean: fast"
    key_line = max(j for j in range(i) if not lines[j].startswith(" ")) + 1
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(TableFormatError, match=rf"line {key_line}: entry .* has mean 'fast'"):
        LatencyTable.load(folder)


def test_tiny_space_ops_enumeration():
    ops = unique_ops(TINY.name, [28])
    assert len({op.key for _, op in ops}) == len(ops) == 60
