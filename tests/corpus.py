"""The shared corpus of real BPMN files (../shared/bpmn-corpus), read in place, never copied."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("BPMN_CORPUS", REPO.parent / "shared" / "bpmn-corpus"))
BENCH_MODELS = Path(os.environ.get("BPMN_BENCH_MODELS", REPO.parent / "shared" / "bench-models"))


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    name: str  # path relative to the corpus
    vendor: str
    executable: bool
    wellformed: str  # yes | no-xml | not-bpmn | wellformed
    elements: frozenset[str]

    @property
    def is_bpmn(self) -> bool:
        return self.wellformed == "yes"


@cache
def corpus_files() -> tuple[CorpusFile, ...]:
    index = CORPUS / "INDEX.tsv"
    if not index.exists():
        raise FileNotFoundError(
            f"the shared BPMN corpus is missing: {index} (set BPMN_CORPUS to its folder)")
    with index.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return tuple(
        CorpusFile(path=CORPUS / row["path"], name=row["path"], vendor=row["vendor"],
                   executable=row["executable"] == "yes", wellformed=row["wellformed"],
                   elements=frozenset(e for e in row["elements"].split(",") if e))
        for row in rows)
