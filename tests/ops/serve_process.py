"""A real ``freshtoken serve`` subprocess for the operator tests: start, find its URLs on stderr, stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent / "freshtoken"


class ServeProcess:
    """``freshtoken [group args] -c CONFIG serve --port 0 [serve args]``; stderr collected line by line."""

    def __init__(self, config: Path, *, group_args: tuple[str, ...] = (), serve_args: tuple[str, ...] = ()) -> None:
        env = dict(os.environ)
        env.pop("FRESHTOKEN_CONFIG", None)
        self.proc = subprocess.Popen(
            [str(BIN), *group_args, "-c", str(config), "serve", "--port", "0", *serve_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"no line matching {pattern!r} from serve; stderr:\n" + "\n".join(self.lines))

    def wait_until(self, predicate: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        raise AssertionError("condition not reached; stderr:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(timeout=10)
        return self.proc.returncode

    def json_lines(self) -> list[dict[str, Any]]:
        """Every stderr line parsed as JSON (an AssertionError names the first line that is not)."""
        out = []
        for line in self.lines:
            try:
                obj = json.loads(line)
            except ValueError:
                raise AssertionError(f"not a JSON line: {line!r}") from None
            assert isinstance(obj, dict), line
            out.append(obj)
        return out
