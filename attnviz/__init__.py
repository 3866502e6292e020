"""attnviz: attention heatmaps of transformer models, from one prompt to a sweep."""

__version__ = "0.1.0"


def __getattr__(name):
    """The seeds' functions, imported on first use (`import attnviz` stays light)."""
    if name == "view_attention":
        from attnviz.api import view_attention

        return view_attention
    raise AttributeError(f"module 'attnviz' has no attribute {name!r}")
