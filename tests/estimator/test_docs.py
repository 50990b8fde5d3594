"""The code of docs/writing-a-callback.md runs as written."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_writing_a_callback_example_runs():
    text = (ROOT / "docs" / "writing-a-callback.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, re.S)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()
    assert last[-1].startswith("stopped after") and int(last[-1].split()[2]) < 30
    assert re.search(r"\(\d+, '\w+', 0\.\d+\)", out.stdout)
