"""edgedigits runtime: classify MNIST-style digits and read digits in camera frames.

Needs only numpy, Pillow and a TFLite interpreter (ai-edge-litert); onnxruntime and OpenCV
(for frames) are optional.
Never imports TensorFlow or Keras.

    import edgedigits
    reading = edgedigits.read("photo.jpg")      # .text, .lines, .to_json(), .annotate("out.png")
    edgedigits.predict("seven.png").digits      # one digit in a crop
    engine = edgedigits.load("model/manifest.json")   # reuse a model across calls
"""

__version__ = "0.1.0"
__all__ = ["load", "predict", "read"]


def __getattr__(name):  # the API is imported on first use, so `import edgedigits` stays instant
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'edgedigits' has no attribute {name!r}")
