"""Local ports and HTTP readiness for tests that start servers (mlflow server, the UI)."""
import socket
import time
import urllib.request


def free_port() -> int:
    """A loopback port nobody listens on (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(url: str, seconds: int) -> bool:
    """Poll `{url}/health` once a second until it answers 200; False if it never did."""
    for _ in range(seconds):
        try:
            if urllib.request.urlopen(f"{url}/health", timeout=2).status == 200:
                return True
        except OSError:
            time.sleep(1)
    return False
