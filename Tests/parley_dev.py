"""Starts a real `parley dev` for the Python client tests and stops it again.

The parley binary is $PARLEY_BIN (default .build/debug/parley; build it first).
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARLEY = os.environ.get("PARLEY_BIN", os.path.join(ROOT, ".build", "debug", "parley"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_parley_dev(api_key, *args, prefix="parley-test-"):
    """Yields the gateway URL of `parley dev --api-key API_KEY ARGS…` once /readyz answers.

    The data folder (with the node's log, dev.log) is removed afterwards, unless the block raised:
    then it stays for reading, and its path is printed."""
    port = free_port()
    data = tempfile.mkdtemp(prefix=prefix)
    log = open(os.path.join(data, "dev.log"), "wb")
    process = subprocess.Popen(
        [PARLEY, "dev", "--http", f"127.0.0.1:{port}", "--data", data, "--api-key", api_key, *args],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"parley dev exited with {process.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"parley dev did not get ready in 60 s; see {log.name}")
            time.sleep(0.2)
        yield url
        failed = False
    except BaseException:
        failed = True
        raise
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if failed:
            print(f"parley dev's data and log kept in {data}")
        else:
            shutil.rmtree(data, ignore_errors=True)
