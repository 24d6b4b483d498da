"""Compiled process definitions, loaded and compiled once per definition row (an LRU cache).

A ProcessDefinition row never changes once stored, so it is keyed by its id (plus its
key and checksum, because a test database that rolls back may hand out an id again):
no invalidation is ever needed, only eviction of the least recently used entries.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from bpmn.loader import load_model
from engine import runtime
from engine.errors import (
    DefinitionNotRunnable,
)
from engine.models import ProcessDefinition

CACHE_SIZE = 256

_lock = threading.Lock()
_CacheKey = tuple[int, str, str]
_cache: OrderedDict[_CacheKey, runtime.CompiledProcess] = OrderedDict()


def compile_definition(definition: ProcessDefinition) -> runtime.CompiledProcess:
    """Parse and compile `definition` (no cache). Raises DefinitionNotRunnable."""
    result = load_model(bytes(definition.bpmn_bytes), source=definition.source_name)
    if not result.ok or result.definitions is None:
        first = result.errors[0].message if result.errors else "the model does not load"
        raise DefinitionNotRunnable(definition.pk, first)
    try:
        return runtime.compile_process(result.definitions, definition.key)
    except runtime.CompileError as exc:
        raise DefinitionNotRunnable(definition.pk, str(exc)) from exc


def compiled_process(definition: ProcessDefinition) -> runtime.CompiledProcess:
    """The compiled process of `definition`, compiled at most once per definition.

    `bpmn_bytes` may be deferred on the row: it is read only on a cache miss. Two threads
    missing at once may both compile; the first result stored wins, which is harmless
    since compiling is deterministic.
    """
    cache_key = (definition.pk, definition.key, definition.checksum)
    with _lock:
        found = _cache.get(cache_key)
        if found is not None:
            _cache.move_to_end(cache_key)
            return found
    compiled = compile_definition(definition)
    with _lock:
        compiled = _cache.setdefault(cache_key, compiled)
        _cache.move_to_end(cache_key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def clear_cache() -> None:
    """Forget every compiled process."""
    with _lock:
        _cache.clear()
