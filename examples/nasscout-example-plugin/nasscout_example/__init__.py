"""An example nasscout plugin: a strategy, a predictor and a benchmark (see README.md)."""
