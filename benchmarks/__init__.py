"""edgedigits benchmarks: `python -m benchmarks run` measures every model x format,
`python -m benchmarks check` is the regression gate against benchmarks/baseline.json."""
