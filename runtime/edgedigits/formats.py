"""The one table of deployable model formats.

Export, runtime loading and benchmarks all loop over FORMATS, so adding a format here is
the single place to start. The runtime owns it because the runtime is the smallest
package every other stage may import; it never imports the training side.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelFormat:
    name: str       # stable key used on the command line, in manifests and in results
    suffix: str     # appended to the model name: <model><suffix>
    backend: str    # "litert" or "onnxruntime"
    quantized: bool  # int8 weights and activations (I/O dtype: read it from the model)

    def filename(self, model_name: str) -> str:
        return f"{model_name}{self.suffix}"


FORMATS: dict[str, ModelFormat] = {
    f.name: f
    for f in (
        ModelFormat("tflite-f32", ".f32.tflite", "litert", quantized=False),
        ModelFormat("tflite-int8", ".int8.tflite", "litert", quantized=True),
        ModelFormat("onnx-f32", ".f32.onnx", "onnxruntime", quantized=False),
        ModelFormat("onnx-int8", ".int8.onnx", "onnxruntime", quantized=True),
    )
}

DEFAULT_FORMAT = "tflite-int8"


def format_for_file(path: str) -> ModelFormat:
    """The format whose suffix the file name ends with (longest suffix wins)."""
    name = str(path)
    matches = [f for f in FORMATS.values() if name.endswith(f.suffix)]
    if not matches:
        known = ", ".join(f.suffix for f in FORMATS.values())
        raise ValueError(f"{path}: unknown model file type (expected a name ending in one of: {known})")
    return max(matches, key=lambda f: len(f.suffix))
