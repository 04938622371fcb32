"""Run ``ansinh`` as a separate process, the way an administrator or a second server would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

ANSINH = [sys.executable, "-m", "app"]


def base_env(**extra: str) -> dict[str, str]:
    """This environment without database settings, scheduler and demo off unless ``extra`` says so."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "ANSINH_DATA_DIR"}}
    env.update({"ANSINH_SCHEDULER": "0", "ANSINH_DEMO": "0", **extra})
    return env


def run_cli(*args: str, env: dict[str, str], stdin: str | None = None, timeout: int = 120):
    return subprocess.run([*ANSINH, *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start ``ansinh serve`` and wait until /healthz answers 200."""
    process = subprocess.Popen([*ANSINH, "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise AssertionError(f"ansinh serve exited with {process.returncode}")
        time.sleep(0.25)
    process.terminate()
    raise AssertionError("ansinh serve did not come up within 60 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)
