"""Running ``isthmus`` as a real subprocess, as a user would."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp


def isthmus(
    *args: str, home: Path | None = None, check: bool = True, stdin: str | None = None
) -> str:
    home_args = ["--home", str(home)] if home is not None else []
    result = subprocess.run(
        [sys.executable, "-m", "isthmus", *args, *home_args],
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
        env={**os.environ, "COLUMNS": "200"},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"isthmus {args} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


def serve_args(home: Path, gateway_port: int, control_port: int) -> list[str]:
    """``isthmus serve`` on the given home and ports."""
    return [
        "serve",
        "--home",
        str(home),
        "--gateway-port",
        str(gateway_port),
        "--control-port",
        str(control_port),
    ]


class Process:
    """A long-running isthmus command with its output in files."""

    def __init__(self, args: list[str], workdir: Path, env: dict[str, str] | None = None) -> None:
        self.out_path = workdir / "stdout.txt"
        self.err_path = workdir / "stderr.txt"
        self._out = self.out_path.open("w")
        self._err = self.err_path.open("w")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "isthmus", *args],
            stdout=self._out,
            stderr=self._err,
            env={**(env or os.environ), "COLUMNS": "300", "PYTHONUNBUFFERED": "1"},
        )

    @property
    def output(self) -> str:
        return self.out_path.read_text() + self.err_path.read_text()

    async def wait_for_text(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.out_path.read_text():
                return self.out_path.read_text()
            if self.popen.poll() is not None:
                break
            await asyncio.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; output:\n{self.output}")

    async def wait_ready(self, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.popen.poll() is not None:
                    raise AssertionError(f"exited early:\n{self.output}")
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"not ready after {timeout}s:\n{self.output}")

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as when a machine or container dies."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()
        self._out.close()
        self._err.close()

    def stop(self, timeout: float = 15) -> int:
        """SIGINT, as Ctrl-C would send; returns the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
                raise AssertionError(f"did not stop on SIGINT:\n{self.output}") from None
        self._out.close()
        self._err.close()
        return self.popen.returncode
