"""Real training of NB201 cells: presets, data, a resumable trainer, the run store and its benchmark.

Nothing here is imported by ``surrogate`` at import time: torch is loaded only when training starts.
"""
