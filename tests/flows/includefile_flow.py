"""IncludeFile as the reference's users write it: a text file and a binary one."""

from tideflow import FlowSpec, IncludeFile, step


class IncludeFileFlow(FlowSpec):
    """Counts the lines of a text file and the bytes of a binary one."""

    notes = IncludeFile("notes", help="A text file", default="notes.txt")
    blob = IncludeFile("blob", is_text=False, help="A binary file", required=True)
    latin = IncludeFile("latin", encoding="latin-1", default=None)

    @step
    def start(self):
        """The files' contents are the parameters' values."""
        self.lines = len(self.notes.splitlines())
        self.blob_type = type(self.blob).__name__
        self.blob_size = len(self.blob)
        self.latin_text = self.latin
        self.next(self.end)

    @step
    def end(self):
        """And they are there in every step."""
        self.end_notes = self.notes


if __name__ == "__main__":
    IncludeFileFlow()
