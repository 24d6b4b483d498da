"""The BPMN 2.0 language: hardened XML reading, the model, validation, expressions, timers.

Pure Python: this package never imports Django or the engine (tests/bpmn enforces it).
"""
