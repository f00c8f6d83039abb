"""A scrape in multiprocess mode reads every process's metrics file; a file that its process is
still creating (or died creating) is left out of that scrape instead of failing it with a 500."""

from __future__ import annotations

import struct
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict, mmap_key

from loumo.core.metrics import _SharedFilesCollector


def _counter_file(directory: Path, pid: int, value: float) -> None:
    values = MmapedDict(str(directory / f"counter_{pid}.db"))  # type: ignore[no-untyped-call]
    key = mmap_key("loumo_orders", "loumo_orders_total", ["shop"], ["a"], "Orders")
    values.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]
    values.close()  # type: ignore[no-untyped-call]


def _total(directory: Path) -> float:
    metrics = list(_SharedFilesCollector(directory).collect())
    return sum(s.value for m in metrics for s in m.samples if s.name == "loumo_orders_total")


def test_a_file_still_being_created_is_left_out_of_the_scrape(tmp_path: Path) -> None:
    _counter_file(tmp_path, 101, 2.0)
    _counter_file(tmp_path, 102, 3.0)
    assert _total(tmp_path) == 5.0
    # A process between creating its file and sizing it: the header claims more than is there.
    (tmp_path / "counter_103.db").write_bytes(struct.pack("i", 4096) + b"\0" * 6)
    (tmp_path / "gauge_livesum_104.db").write_bytes(b"")  # one that died at that moment
    assert _total(tmp_path) == 5.0
