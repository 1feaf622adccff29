"""`planport import preview` on files in the encodings Excel writes: as fast as UTF-8."""

from __future__ import annotations

import codecs
import time
from pathlib import Path

import pytest

from tests.integration.test_import_cli import Demo, demo, demo_template

__all__ = ["demo", "demo_template"]  # fixtures, shared with the import command's tests

# The read throttle stalled every non-UTF-8 file by 10 s; starting the command costs seconds.
STALL_S = 5.0


@pytest.mark.parametrize(
    ("codec", "bom"),
    [("cp1252", b""), ("utf-16-le", codecs.BOM_UTF16_LE)],
)
def test_import_preview_of_a_non_utf8_file_takes_no_longer_than_of_a_utf8_one(
    demo: Demo, tmp_path: Path, codec: str, bom: bytes
) -> None:
    configuration = demo.configuration_id("Countries")
    text = (demo.samples / "countries.csv").read_text(
        encoding="utf-8"
    ) + "CI,Côte d’Ivoire,EMEA,XOF\n"
    timings = {}
    for name, data in (("utf-8", text.encode()), (codec, bom + text.encode(codec, "replace"))):
        path = tmp_path / f"countries-{name}.csv"
        path.write_bytes(data)
        started = time.monotonic()
        result = demo.run("import", "preview", configuration, str(path))
        timings[name] = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        assert "Preview only: nothing was written." in result.stdout
    assert timings[codec] < timings["utf-8"] + STALL_S, timings
