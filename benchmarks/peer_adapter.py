"""Run one peer OCR engine on images: `python peer_adapter.py rapidocr|tesseract < paths`.

Reads one image path a line on standard input and prints one JSON line per image:
{"image": PATH, "lines": ["123", ...], "ms": 12.3} (or "error" instead of "lines"). A line is one
text line the engine found with only its digits kept, lines without digits dropped, top to bottom.
Standard library only: it runs in the peers' own venv (.cache/peers-venv) without edgedigits.

  rapidocr   RapidOCR (rapidocr-onnxruntime), one ONNX Runtime thread; ms times the engine on the
             decoded image (as the benchmark times edgedigits), after one untimed warm-up
  tesseract  the `tesseract` binary, --psm 6 and a digits whitelist, one thread (OMP_THREAD_LIMIT=1);
             ms times the whole process (start, decode, recognition)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

TESSERACT_ARGS = ("--psm", "6", "-c", "tessedit_char_whitelist=0123456789")


def digit_lines(found) -> list[str]:
    """`found`: (top, bottom, left, text) per text line the engine found. Their digits, lines with none
    dropped, top to bottom: a line whose vertical centre lies within an earlier line's top..bottom is
    on that line's row, and a row's lines go left to right (each stays a line of its own)."""
    rows: list[list] = []
    for item in sorted(found, key=lambda item: (item[0] + item[1]) / 2):
        centre = (item[0] + item[1]) / 2
        row = next((row for row in rows if row[0][0] <= centre <= row[0][1]), None)
        if row is None:
            rows.append([item])
        else:
            row.append(item)
    lines = []
    for row in rows:
        for _top, _bottom, _left, text in sorted(row, key=lambda item: item[2]):
            digits = "".join(c for c in text if c.isdigit() and c.isascii())
            if digits:
                lines.append(digits)
    return lines


def rapidocr_reader():
    import cv2
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)

    def read(path: str) -> tuple[list[str], float]:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("cannot decode")
        start = time.perf_counter()
        result, _ = engine(image)
        ms = (time.perf_counter() - start) * 1e3
        found = [(min(y for _, y in box), max(y for _, y in box), min(x for x, _ in box), text)
                 for box, text, _score in result or []]
        return digit_lines(found), ms

    return read


def tesseract_reader():
    env = dict(os.environ, OMP_THREAD_LIMIT="1")

    def read(path: str) -> tuple[list[str], float]:
        start = time.perf_counter()
        done = subprocess.run(["tesseract", path, "stdout", *TESSERACT_ARGS], capture_output=True, text=True,
                              env=env, check=False)
        ms = (time.perf_counter() - start) * 1e3
        if done.returncode != 0:
            raise RuntimeError((done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1])
        found = [(number, number, 0, text) for number, text in enumerate(done.stdout.splitlines())]  # reading order
        return digit_lines(found), ms

    return read


READERS = {"rapidocr": rapidocr_reader, "tesseract": tesseract_reader}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in READERS:
        print(f"usage: peer_adapter.py {{{','.join(READERS)}}} < image paths", file=sys.stderr)
        return 2
    read = READERS[argv[0]]()
    paths = [line.strip() for line in sys.stdin if line.strip()]
    for number, path in enumerate(paths):
        try:
            if number == 0 and argv[0] == "rapidocr":
                read(path)  # warm-up, as the benchmark gives edgedigits
            lines, ms = read(path)
            record = {"image": path, "lines": lines, "ms": round(ms, 2)}
        except Exception as error:  # noqa: BLE001 - one image's failure is reported, the rest still read
            record = {"image": path, "error": f"{type(error).__name__}: {error}"}
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
