"""IncludeFile: a parameter whose value is the contents of a local file.

The run reads the file when it starts and stores its contents as an artifact: every step
sees the same text, and so does anyone reading the run later, even after the file
changed. Give another file with ``--table PATH``; ``is_text=False`` reads bytes.

Run it with ``python examples/includefile.py run --table my.csv``.
"""

from pathlib import Path

from tideflow import FlowSpec, IncludeFile, step


class IncludeFileFlow(FlowSpec):
    """Sum a column of a CSV file."""

    table = IncludeFile(
        "table",
        help="A CSV file with a header and a 'count' column",
        default=str(Path(__file__).with_name("includefile_data.csv")),
    )

    @step
    def start(self):
        """Parse the included text."""
        header, *rows = [line.split(",") for line in self.table.strip().splitlines()]
        column = header.index("count")
        self.total = sum(int(row[column]) for row in rows)
        self.next(self.end)

    @step
    def end(self):
        """Print the sum."""
        print(f"{len(self.table)} characters read; the counts add up to {self.total}")


if __name__ == "__main__":
    IncludeFileFlow()
