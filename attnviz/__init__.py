"""attnviz: attention heatmaps of transformer models, from one prompt to a sweep."""

__version__ = "0.1.0"
