"""The result files of a benchmark: its rows as CSV and its summary as JSON, side by side."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path


def write_results(out: Path, rows: list[dict], summary: dict,
                  columns: Sequence[str] | None = None) -> None:
    """Write ``out``.csv (a line per row; ``columns``, else the first row's keys) and ``out``.json.

    ``summary`` is written as it is: it holds the rows too where a reader wants them in one file.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix('.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, list(columns or rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out.with_suffix('.json').write_text(json.dumps(summary, indent=2) + '\n')
