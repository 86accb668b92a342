"""What native libraries print. Their C/C++ code writes straight to file descriptors 1 and 2, past
sys.stdout and sys.stderr: LiteRT its "INFO: Created TensorFlow Lite XNNPACK delegate", some
onnxruntime builds a provider banner, libpng and libjpeg inside OpenCV "libpng warning: iCCP: ..."
or "Corrupt JPEG data: ...". `captured()` catches it, so stdout carries only edgedigits' own output
(--json stays JSON) and an error stays one line; each caller decides what to pass on.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading

# Redirections must not interleave between threads: one restoring the descriptors out of order
# would leave fd 2 on another's temporary file for good.
_LOCK = threading.RLock()


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()


@contextlib.contextmanager
def captured():
    """Route fds 1 and 2 to one temporary file for the block; the list it yields receives the
    captured lines when the block ends. Where the descriptors cannot be duplicated (closed), nothing
    is captured. Output of other threads during the block is caught too: keep blocks short."""
    lines: list[str] = []
    with _LOCK:
        _flush()
        try:
            saved_out = os.dup(1)
        except OSError:
            yield lines
            return
        try:
            saved_err = os.dup(2)
        except OSError:
            os.close(saved_out)
            yield lines
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                yield lines
            finally:
                _flush()
                os.dup2(saved_out, 1)
                os.dup2(saved_err, 2)
                os.close(saved_out)
                os.close(saved_err)
                sink.seek(0)
                lines.extend(line for line in sink.read().decode("utf-8", "replace").splitlines() if line.strip())
