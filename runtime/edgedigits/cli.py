"""`edgedigits` command line: predict, read, camera, serve, info.

Exit codes: 0 ok, 1 internal error, 2 usage, 3 model error, 4 input error (bad image or video,
also when only some of several images failed), 5 camera error, 6 missing dependency (OpenCV,
onnxruntime, a TFLite interpreter), 130 interrupted. Errors are one line on stderr; EDGEDIGITS_DEBUG=1 adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import __version__
from .backends import BACKEND_CHOICES
from .formats import FORMATS

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_MODEL, EXIT_INPUT, EXIT_CAMERA, EXIT_DEPENDENCY = 0, 1, 2, 3, 4, 5, 6
EXIT_INTERRUPTED = 130
PROG = "edgedigits"


class CliError(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _error(message: str) -> None:
    """One line, whatever the message holds (interpreters' exception texts span several)."""
    line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    print(f"{PROG}: error: {line}", file=sys.stderr, flush=True)


def _report_image_error(path: str, error: Exception, as_json: bool) -> None:
    """One bad image: a line on stderr, and with --json a record, so the others still count."""
    _error(str(error))
    if as_json:
        print(json.dumps({"path": path, "error": str(error)}), flush=True)


def _round(value: float) -> float:
    return round(float(value), 6)


# ---------------------------------------------------------------- model


def _load_classifier(args):
    from .classifier import BackendUnavailableError, ModelError, default_model_path, load

    path = args.model or default_model_path()
    try:
        return load(path, backend=args.backend, threads=args.threads, format=args.format)
    except BackendUnavailableError as error:
        raise CliError(str(error), EXIT_DEPENDENCY) from None
    except ModelError as error:
        raise CliError(str(error), EXIT_MODEL) from None


def _make_reader(classifier):
    try:
        from .reader import FrameReader, draw_annotations
        return FrameReader(classifier), draw_annotations
    except ImportError as error:  # the reader raises an ImportError subclass when OpenCV is missing
        from .imageio import OPENCV_HINT

        message = str(error) if OPENCV_HINT in str(error) else f"reading frames needs OpenCV: {OPENCV_HINT} ({error})"
        raise CliError(message, EXIT_DEPENDENCY) from None


def _read_image(path: str):
    from .imageio import ImageError, read_image

    try:
        return read_image(path)
    except ImageError as error:
        raise CliError(str(error), EXIT_INPUT) from None
    except MemoryError:
        raise CliError(f"{path}: image too large to load into memory", EXIT_INPUT) from None


# ---------------------------------------------------------------- predict


def cmd_predict(args) -> int:
    from .preprocess import MIN_CROP_CONTRAST, crop_has_ink, prepare_crop

    classifier = _load_classifier(args)
    failures = 0
    for path in args.images:
        try:
            image = _read_image(path)
            try:
                has_ink = crop_has_ink(image)
                digit_input = prepare_crop(image) if has_ink else None
            except (ValueError, TypeError) as error:
                raise CliError(f"{path}: {error}", EXIT_INPUT) from None
            prediction = classifier.predict(digit_input) if has_ink else None
        except CliError as error:
            failures += 1
            _report_image_error(path, error, args.json)
            continue
        if prediction is None:
            reason = f"no ink: contrast under {MIN_CROP_CONTRAST:.0%} of the range, or under 2 pixels"
            if args.json:
                print(json.dumps({"path": path, "digit": None, "confidence": 0.0, "probabilities": None,
                                  "is_digit": False, "reject": None, "reason": reason}), flush=True)
            else:
                print(f"{path}: no digit ({reason})", flush=True)
            continue
        reject = None if prediction.reject is None else _round(prediction.reject)
        if args.json:
            record = {"path": path, "digit": prediction.digits if prediction.is_digit else None,
                      "confidence": _round(prediction.confidence),
                      "probabilities": [_round(p) for p in prediction.probabilities],
                      "is_digit": prediction.is_digit, "reject": reject}
            if not prediction.is_digit:
                record["reason"] = f"not a digit (probability {reject}; likeliest digit {prediction.digits})"
            print(json.dumps(record), flush=True)
        elif not prediction.is_digit:
            print(f"{path}: no digit (not a digit: probability {prediction.reject:.3f}; likeliest digit "
                  f"{prediction.digits})", flush=True)
        else:
            print(f"{path}: {prediction.digits}  (confidence {prediction.confidence:.3f})", flush=True)
    return EXIT_INPUT if failures else EXIT_OK


# ---------------------------------------------------------------- read


def annotation_paths(target: str, images: list[str]) -> list[Path]:
    """Where --annotate writes each image's drawing.

    One image: exactly `target`. Several: into `target` if it is a directory (or ends with '/'),
    as <stem>-annotated.png; else next to it as <target stem>-<image stem><target suffix>.
    Duplicate image stems get -2, -3, ... so nothing is overwritten.
    """
    target_path = Path(target)
    if len(images) == 1 and not (target.endswith(("/", os.sep)) or target_path.is_dir()):
        return [target_path]
    as_directory = target.endswith(("/", os.sep)) or target_path.is_dir()
    seen: dict[str, int] = {}
    paths = []
    for image in images:
        stem = Path(image).stem
        seen[stem] = seen.get(stem, 0) + 1
        unique = stem if seen[stem] == 1 else f"{stem}-{seen[stem]}"
        if as_directory:
            paths.append(target_path / f"{unique}-annotated.png")
        else:
            suffix = target_path.suffix or ".png"
            paths.append(target_path.with_name(f"{target_path.stem}-{unique}{suffix}"))
    return paths


def cmd_read(args) -> int:
    from functools import partial

    from .batch import Progress, done_paths, expand_images, run

    output = Path(args.output) if args.output else None
    if args.resume and output is None:
        raise CliError("--resume needs --output FILE (the results of the earlier run)", EXIT_USAGE)
    images = expand_images(args.images, args.recursive)
    if not images:
        raise CliError(f"no images in {' '.join(args.images)} (image files: .png .jpg .jpeg .bmp .pgm .ppm "
                       ".tif .webp .npy; --recursive looks into subfolders)", EXIT_INPUT)
    if output is not None:
        if output.exists() and not args.resume:
            raise CliError(f"--output {output} exists: pass --resume to add to it (skipping the images it "
                           "already has), or remove it", EXIT_USAGE)
        if output.exists() and not output.is_file():
            raise CliError(f"--output {output} is not a regular file", EXIT_USAGE)
        skip = done_paths(output) if args.resume else set()
        images = [image for image in images if image not in skip]
    annotated = annotation_paths(args.annotate, images) if args.annotate and images else [None] * len(images)
    _refuse_to_overwrite_inputs(images, [p for p in annotated if p is not None])
    classifier = _load_classifier(args)  # model problems stop everything before any image is read
    reader, draw = _make_reader(classifier)
    sink = None
    if output is not None:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            sink = output.open("a", encoding="utf-8")
        except OSError as error:
            raise CliError(f"--output {output}: cannot write ({error.strerror or error})", EXIT_INPUT) from None
    progress = Progress(len(images), args.progress or (sys.stderr.isatty() and not args.json))
    failures = 0

    def on_record(record: dict) -> None:
        nonlocal failures
        if sink is not None:
            sink.write(json.dumps(record) + "\n")
            sink.flush()
        if "error" in record:
            failures += 1
            _error(record["error"])
            if args.json:
                print(json.dumps(record), flush=True)
        elif args.json:
            print(json.dumps(record), flush=True)
        else:
            texts = [line["text"] for line in record["lines"]]
            print(f"{record['path']}: {' | '.join(texts) if texts else '(no digits)'}  ({record['ms']:.1f} ms)",
                  flush=True)
        progress.step()

    tasks = [(path, out, args.debug) for path, out in zip(images, annotated)]
    model_options = dict(model=args.model, backend=args.backend, threads=args.threads, format=args.format)
    try:
        run(tasks, partial(_read_record, reader, draw), partial(_worker_reader, **model_options),
            min(args.workers, max(1, len(tasks))), on_record)
    finally:
        progress.close()
        if sink is not None:
            sink.close()
    return EXIT_INPUT if failures else EXIT_OK


def _worker_reader(**model_options):
    """In a worker process: load the model and return its read-one-image function."""
    from functools import partial
    from types import SimpleNamespace

    classifier = _load_classifier(SimpleNamespace(**model_options))
    reader, draw = _make_reader(classifier)
    return partial(_read_record, reader, draw)


def _read_record(reader, draw, path: str, annotated_path, debug_dir) -> dict:
    """The JSON record of one image ({"path", "lines", ..., "ms"}), or {"path", "error"} for a bad one."""
    try:
        frame = _read_image(path)
        stages = {} if debug_dir else None
        started = time.perf_counter()
        try:
            result = reader.read(frame, debug=stages)
        except (ValueError, TypeError) as error:
            raise CliError(f"{path}: {error}", EXIT_INPUT) from None
        ms = (time.perf_counter() - started) * 1000.0
        record = {"path": path, **result.to_dict(), "ms": round(ms, 2)}
        if annotated_path is not None:
            _write_annotation(annotated_path, draw(frame, result))
        if stages is not None:
            _write_debug(Path(debug_dir), path, stages)
        return record
    except CliError as error:
        return {"path": path, "error": str(error)}


def _refuse_to_overwrite_inputs(images: list[str], outputs: list[Path]) -> None:
    """An annotation written over one of the photos being read would destroy it: refuse, before any work."""
    inputs = {Path(image).resolve() for image in images}
    for output in outputs:
        if output.resolve() in inputs:
            raise CliError(f"--annotate {output}: that is one of the input images; refusing to overwrite it",
                           EXIT_USAGE)


def _write_debug(folder: Path, image_path: str, stages: dict) -> None:
    from .debug import write_stages
    from .imageio import ImageError

    try:
        write_stages(folder, Path(image_path).stem, stages)
    except (ImageError, OSError) as error:
        raise CliError(f"{folder}: cannot write the stage pictures ({error})", EXIT_INPUT) from None


def _write_annotation(path: Path, image) -> None:
    from .imageio import ImageError, write_image

    try:
        write_image(path, image)
    except (ImageError, OSError) as error:
        raise CliError(f"{path}: cannot write annotated image ({error})", EXIT_INPUT) from None


# ---------------------------------------------------------------- camera


def _check_save_dir(folder: str) -> None:
    """--save-dir must be (or become) a writable folder: said before the camera is opened."""
    import tempfile

    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-probe."):
            pass
    except OSError as error:
        raise CliError(f"--save-dir {folder}: not a writable folder ({error.strerror or error})", EXIT_USAGE) from None


def cmd_camera(args) -> int:
    from .camera import CameraError, DependencyError, VideoError, open_source, run_loop

    if args.save_dir is not None:
        _check_save_dir(args.save_dir)
    classifier = _load_classifier(args)
    reader, draw = _make_reader(classifier)
    try:
        with open_source(device=args.device, video=args.video) as source:
            print(f"{PROG}: reading {source.name} with {classifier.format} "
                  f"({classifier.interpreter_module}); Ctrl-C to stop", file=sys.stderr, flush=True)
            stats = run_loop(reader, source, max_frames=args.max_frames, save_dir=args.save_dir,
                             show=not args.no_display, as_json=args.json, annotate=draw)
    except VideoError as error:
        raise CliError(str(error), EXIT_INPUT) from None
    except CameraError as error:
        raise CliError(str(error), EXIT_CAMERA) from None
    except DependencyError as error:
        raise CliError(str(error), EXIT_DEPENDENCY) from None
    print(f"{PROG}: {stats.frames} frames in {stats.seconds:.1f} s ({stats.fps:.1f} fps), "
          f"stopped by {stats.stopped_by}", file=sys.stderr, flush=True)
    return EXIT_OK


# ---------------------------------------------------------------- serve


def cmd_serve(args) -> int:
    import signal
    import threading

    from .camera import CameraError, DependencyError, PiCameraSource, VideoError, open_source
    from .serve import DependencyMissing, MqttConfig, MqttPublisher, Region, ServeConfig, ServeError, Service, \
        load_config, make_server
    from .stability import Stability

    try:
        regions = tuple(Region.parse(text, i) for i, text in enumerate(args.roi or [], 1))
        config_path = Path(args.config) if args.config else None
        if config_path is not None and not args.roi:
            regions = load_config(config_path)
        mqtt = MqttConfig.parse(args.mqtt, args.mqtt_topic) if args.mqtt else None
        config = ServeConfig(host=args.host, port=args.port, token=args.token, fps=args.fps, regions=regions,
                             stability=Stability.parse(args.stable), config_path=config_path, mqtt=mqtt)
    except (ServeError, ValueError) as error:
        raise CliError(str(error), EXIT_USAGE) from None
    if not config.stability.holds_back_flicker:
        _error(f"note: with --stable {config.stability} a digit read two ways in turns still becomes stable "
               "(K must be above half of N, rounded up, to hold it back)")
    if not config.loopback and config.token is None:
        _error(f"warning: serving {config.host} without --token: anyone who can reach this port sees the camera")
    classifier = _load_classifier(args)
    reader, draw = _make_reader(classifier)

    def open_camera():
        return PiCameraSource() if args.picamera else open_source(device=args.device, video=args.video)

    def interrupt(*_):
        raise KeyboardInterrupt

    source = service = server = None
    previous_sigterm = None
    try:
        source = open_camera()  # a missing camera or video is said now, before anything is served
        publisher = MqttPublisher(config.mqtt) if config.mqtt else None
        service = Service(reader, draw, open_camera, config, source=source, publisher=publisher,
                          info={"model": str(classifier.source.path), "format": classifier.format,
                                "backend": classifier.interpreter_module})
        server = make_server(service, config)
        service.start()
        if threading.current_thread() is threading.main_thread():  # systemd's stop releases the camera too
            previous_sigterm = signal.signal(signal.SIGTERM, interrupt)
        host, port = server.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"{PROG}: serving {source.name} on http://{shown}:{port}/"
              + (" (token required)" if config.token else "") + "; Ctrl-C to stop", file=sys.stderr, flush=True)
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    except VideoError as error:
        raise CliError(str(error), EXIT_INPUT) from None
    except CameraError as error:
        raise CliError(str(error), EXIT_CAMERA) from None
    except (DependencyError, DependencyMissing) as error:
        raise CliError(str(error), EXIT_DEPENDENCY) from None
    except OSError as error:
        raise CliError(f"cannot serve on {config.host}:{config.port} ({error.strerror or error})", EXIT_USAGE) from None
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
        if server is not None:
            server.server_close()
        if service is not None:
            service.stop()  # the capture thread releases the camera
        elif source is not None:
            source.close()
    if service is not None:
        print(f"{PROG}: stopped after {service.frames_read} frames", file=sys.stderr, flush=True)
    return EXIT_OK


# ---------------------------------------------------------------- info


def cmd_info(args) -> int:
    from .metadata import EmbeddedMetadataError, read_embedded_metadata

    if args.model_path:
        args.model = args.model_path
    classifier = _load_classifier(args)
    info = classifier.describe()
    try:
        embedded = read_embedded_metadata(classifier.source.path)
    except EmbeddedMetadataError as error:
        embedded = None
        _error(f"warning: {error}")
    info["embedded_metadata"] = embedded
    info["origin"] = _model_origin(args.model, classifier)
    if info["accuracy"] is None and embedded:
        info["accuracy"] = (embedded.get("validation") or {}).get("accuracy")
        info["accuracy_source"] = "embedded metadata" if info["accuracy"] is not None else None
    else:
        info["accuracy_source"] = "manifest" if info["accuracy"] is not None else None
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    for key in ("path", "origin", "format", "size_bytes", "sha256", "manifest", "interpreter"):
        print(f"{key:12s} {info[key]}")
    for key in ("input", "output"):
        spec = info[key]
        quant = (f"scale {spec['scale']:.8g}, zero_point {spec['zero_point']}" if spec["scale"] is not None
                 else "not quantized")
        print(f"{key:12s} {spec['name']} {spec['dtype']} {spec['shape']} ({quant})")
    accuracy = info["accuracy"]
    print(f"{'accuracy':12s} "
          + (f"{accuracy:.4f} (MNIST test, from the {info['accuracy_source']})" if accuracy is not None
             else "unknown (no manifest or embedded metadata)"))
    temperature = info["temperature"]
    print(f"{'temperature':12s} {temperature:g} "
          + ("(probabilities = p ** (1/T) renormalized, T fitted at export)" if temperature != 1.0
             else "(probabilities as the model outputs them)"))
    print(f"{'labels':12s} {' '.join(info['labels'])}")
    print(f"{'metadata':12s} {'embedded (key edgedigits)' if embedded else 'none embedded'}")
    return EXIT_OK


def _model_origin(requested, classifier) -> str:
    """Which rule chose the model: --model, $EDGEDIGITS_MODEL, a local export, or the packaged one."""
    from .classifier import PACKAGED_MODEL_DIR

    if requested:
        return "--model"
    if os.environ.get("EDGEDIGITS_MODEL"):
        return "$EDGEDIGITS_MODEL"
    if classifier.source.path.resolve().parent == PACKAGED_MODEL_DIR:
        manifest = classifier.source.manifest or {}
        return (f"shipped with the package (exported {manifest.get('created_utc', '?')}; "
                "`make release-model` replaces it)")
    return "artifacts/edge (a local export, found in the current directory)"


# ---------------------------------------------------------------- parser


def _int_at_least(minimum: int):
    """An argparse type: an integer >= minimum, with a message saying so."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _add_model_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """The same options on the main parser and on every subcommand (subcommand value wins)."""

    def default(value):
        return value if top_level else argparse.SUPPRESS

    group = parser.add_argument_group("model options")
    group.add_argument("--model", metavar="PATH", default=default(None),
                       help="model file, manifest.json or its directory "
                            "(default: $EDGEDIGITS_MODEL, else artifacts/edge/manifest.json when it exists, "
                            "else the edge model shipped with the package)")
    group.add_argument("--format", choices=list(FORMATS), default=default(None),
                       help="which model of a manifest to use (default: tflite-int8; onnx-int8 with "
                            "--backend onnxruntime; for a model file: detected)")
    group.add_argument("--backend", choices=[c for c in BACKEND_CHOICES], default=default("auto"),
                       help="interpreter: auto/litert try ai_edge_litert then tflite_runtime "
                            "(or $EDGEDIGITS_TFLITE) (default: auto)")
    group.add_argument("--threads", type=_positive_int, default=default(1), metavar="N",
                       help="interpreter threads (default: 1)")


def _add_source_options(parser: argparse.ArgumentParser, video_help: str):
    """--device N | --video FILE, exclusive; returns the group for more sources."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--device", type=_non_negative_int, metavar="N",
                        help="webcam index (default: the Pi camera when picamera2 is importable, else 0)")
    source.add_argument("--video", metavar="FILE", help=video_help)
    return source


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Classify handwritten digits and read digits in camera frames with an exported "
                    "edgedigits model (TFLite or ONNX; no TensorFlow needed).",
        epilog="exit codes: 0 ok, 2 usage, 3 model error, 4 input error, 5 camera error, "
               "6 missing dependency")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_model_options(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _add_model_options(sub, top_level=False)
        return sub

    predict = command("predict", "classify single-digit images (any size, dark-on-light or light-on-dark)")
    predict.add_argument("images", nargs="+", metavar="IMAGE",
                         help="PNG, JPEG, BMP, TIFF, WebP, GIF, PGM/PPM or .npy")
    predict.add_argument("--json", action="store_true", help="print one JSON object per image")
    predict.set_defaults(handler=cmd_predict)

    read = command("read", "read the digits in photos/frames (lines of digits with boxes)")
    read.add_argument("images", nargs="+", metavar="IMAGE", help="frame images, or folders of them")
    read.add_argument("--recursive", action="store_true", help="also read the images in the folders' subfolders")
    read.add_argument("--output", metavar="FILE",
                      help="also write each result to FILE as JSON Lines, as it comes (flushed); a bad image "
                           "gets an {\"path\", \"error\"} record and the rest are read (default: none)")
    read.add_argument("--resume", action="store_true",
                      help="with --output: skip the images FILE already has a record for, and add the rest")
    read.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                      help="read with N processes, each with its own model (default: 1)")
    read.add_argument("--progress", action="store_true",
                      help="show the progress line (count, images/s, ETA) on stderr even under --json or "
                           "when stderr is not a terminal (default: only on a terminal, without --json)")
    read.add_argument("--json", action="store_true", help="print JSON Lines, one object per image")
    read.add_argument("--annotate", metavar="OUT",
                      help="write the frame with boxes and digits: to OUT for one image; for several, "
                           "OUT-<image stem>.png, or DIR/<image stem>-annotated.png when OUT is a "
                           "directory or ends with '/' (default: no drawing)")
    read.add_argument("--debug", metavar="DIR",
                      help="write one picture per reader stage into DIR as <image stem>-<n>-<stage>.png "
                           "(paper, darkness, ink, upright ink with removed rules, lines, crops with "
                           "their readings): what to open when a photo reads wrong (default: none)")
    read.set_defaults(handler=cmd_read)

    camera = command("camera", "live loop: read digits from a webcam, the Pi camera or a video file")
    _add_source_options(camera, "read frames from a video file instead")
    camera.add_argument("--save-dir", metavar="DIR", help="save every annotated frame as PNG here (default: none)")
    camera.add_argument("--max-frames", type=_positive_int, metavar="N",
                        help="stop after N frames (default: run until the video ends or Ctrl-C)")
    camera.add_argument("--json", action="store_true", help="print JSON Lines, one object per frame")
    camera.add_argument("--no-display", action="store_true",
                        help="never open a window (by default one opens when a display is available)")
    camera.set_defaults(handler=cmd_camera)

    serve = command("serve", "serve the camera's readings: a web page, an HTTP API, MQTT (see runtime/README.md)")
    source = _add_source_options(serve, "read a video file instead, looping at its own frame rate")
    source.add_argument("--picamera", action="store_true", help="the Raspberry Pi camera (picamera2)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for the network)")
    serve.add_argument("--port", type=_non_negative_int, default=8080, help="TCP port (default: 8080)")
    serve.add_argument("--token", help="require this token on every request: header 'Authorization: Bearer T' "
                                       "or ?token=T (default: none; set one before serving the network)")
    serve.add_argument("--fps", type=float, metavar="N", help="read at most N frames per second (default: as fast "
                                                              "as the reader goes)")
    serve.add_argument("--roi", action="extend", nargs="+", metavar="NAME=X,Y,W,H",
                       help="read only these rectangles (frame pixels), each reported under its name "
                            "(default: the whole frame, or the regions in --config)")
    serve.add_argument("--stable", default="3/4", metavar="K/N",
                       help="a text is stable when it was read in K of the last N frames; K above half of N, rounded "
                            "up, holds back a digit flickering between two values (default: 3/4)")
    serve.add_argument("--config", metavar="FILE",
                       help="JSON file with the regions: read at start (unless --roi is given), written when "
                            "regions are saved on the page (default: regions drawn on the page are not kept)")
    serve.add_argument("--mqtt", metavar="HOST[:PORT]",
                       help="publish each stable reading to this MQTT broker (needs edgedigits-runtime[mqtt])")
    serve.add_argument("--mqtt-topic", default="edgedigits/reading", metavar="T",
                       help="topic for the readings; T/status says online/offline (default: edgedigits/reading)")
    serve.set_defaults(handler=cmd_serve)

    info = command("info", "describe a model: format, size, input contract, quantization, accuracy")
    info.add_argument("model_path", nargs="?", metavar="MODEL",
                      help="model file, manifest.json or directory (default: --model or the default model)")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except CliError as error:
        _error(str(error))
        return error.code
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        sys.stderr.close()  # e.g. `edgedigits read ... | head`: not an error worth a message
        return EXIT_OK
    except Exception as error:  # noqa: BLE001 - the CLI promises one line, never a traceback
        if os.environ.get("EDGEDIGITS_DEBUG"):
            raise
        _error(f"internal error: {type(error).__name__}: {error} (set EDGEDIGITS_DEBUG=1 for the traceback)")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
