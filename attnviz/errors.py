"""The one exception type attnviz raises for bad input.

Its message is a single line that names the problem and says how to fix it, so that the
pipeline, the command line and notebooks can show it as it is.
"""


class AttnvizError(ValueError):
    """Bad input: a wrong config, a missing model, an index out of range, ..."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))
