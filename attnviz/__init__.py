"""attnviz: attention heatmaps of transformer models, from one prompt to a sweep."""

__version__ = "0.1.0"


def __getattr__(name):
    """The seeds' functions, imported on first use (`import attnviz` stays light)."""
    if name in ("view_attention", "extract_attention", "draw", "head_table", "compare_models"):
        from attnviz import api

        return getattr(api, name)
    if name in ("save_viewer", "show"):
        from attnviz import viewer

        return getattr(viewer, name)
    raise AttributeError(f"module 'attnviz' has no attribute {name!r}")
