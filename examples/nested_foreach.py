"""A foreach inside a foreach: every pair of a small grid.

``start`` splits over ``rows``; each row task splits again over ``cols``. The inner
``join_cols`` runs once per row, joining that row's cells; the outer ``join_rows`` then
joins the rows. Inside the inner body, ``self.input`` and ``self.index`` refer to the
innermost foreach, and ``foreach_stack()`` lists every level, outermost first.

Run it with ``python examples/nested_foreach.py run``.
"""

from tideflow import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    """Multiply every row by every column and collect the table."""

    @step
    def start(self):
        """Choose the rows; one `row` task runs per row."""
        self.rows = [1, 2]
        self.next(self.row, foreach="rows")

    @step
    def row(self):
        """Keep this row's value and split over the columns."""
        self.row_value = self.input
        self.cols = [10, 20]
        self.next(self.cell, foreach="cols")

    @step
    def cell(self):
        """One cell: the row value (inherited) times this column (self.input)."""
        self.product = self.row_value * self.input
        row, col = (f"{index + 1}/{splits}" for index, splits, _ in self.foreach_stack())
        print(f"row {row}, column {col}: {self.row_value} x {self.input} = {self.product}")
        self.next(self.join_cols)

    @step
    def join_cols(self, inputs):
        """Join the cells of one row."""
        self.line = [task.product for task in inputs]
        self.next(self.join_rows)

    @step
    def join_rows(self, inputs):
        """Join the rows into a table."""
        self.table = [task.line for task in inputs]
        self.next(self.end)

    @step
    def end(self):
        """Print the table."""
        for line in self.table:
            print(" ".join(f"{value:3d}" for value in line))


if __name__ == "__main__":
    NestedForeachFlow()
