"""Seeing what the agent does: the run report, the episode inspector, video, the return-following curve and
attention maps. Nothing here is imported by training except `report_after_training`, which imports the rest
(matplotlib included) only when it runs."""

from __future__ import annotations

import sys
from pathlib import Path

from lightup.errors import error_line


def report_after_training(trainer) -> Path | None:
    """Write ``report.html`` into a finished run's folder. A report is a convenience: any failure is printed
    as one line and swallowed, so it can never cost the run (whose checkpoint is already written)."""
    try:
        from lightup.viz.report import write_report

        return write_report(trainer.run_dir, trainer=trainer)
    except Exception as err:  # deliberately broad, see the docstring
        print(f"warning: no report written ({error_line(err)})", file=sys.stderr)
        return None
