"""`SQLiteKV` is exported from `freshtoken` (issue 14), lazily: `import freshtoken` imports neither sqlite3 (a
Python Worker has none) nor the embedded runtime, and the KV file module imports nothing of the runtime."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
import freshtoken
assert "sqlite3" not in sys.modules, "import freshtoken imported sqlite3"
from freshtoken import SQLiteKV
assert SQLiteKV.__module__ == "freshtoken.kv.sqlite"
assert not any(m.startswith("freshtoken.embedded") for m in sys.modules), sorted(
    m for m in sys.modules if m.startswith("freshtoken.embedded"))
kv = SQLiteKV(sys.argv[1])
kv.put_sync("t:p:a", '{"v":1}', 60)
assert kv.get_sync("t:p:a") == '{"v":1}'
print("ok")
"""


def test_sqlite_kv_from_freshtoken_without_the_runtime(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "kv.db")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    assert oct((tmp_path / "kv.db").stat().st_mode & 0o777) == "0o600"
