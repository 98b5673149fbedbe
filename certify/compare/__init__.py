"""Side-by-side comparison of every bound method on several models: tables (CSV, Markdown,
HTML) and a plot.  Built on `certify.api.run_method` only; ``certify compare`` is the command
line."""

from .plot import plot
from .run import Comparison, compare, ratio, selected_methods
from .tables import COLUMNS, html_page, markdown, rows, to_csv

__all__ = [
    "COLUMNS",
    "Comparison",
    "compare",
    "html_page",
    "markdown",
    "plot",
    "ratio",
    "rows",
    "selected_methods",
    "to_csv",
]
