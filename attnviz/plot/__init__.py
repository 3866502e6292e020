"""Figures: the heatmap primitive, layouts of panels, and rendering a record to a file."""

from attnviz.plot.heatmap import heatmap
from attnviz.plot.layouts import head_figures, layer_average_figures, save_figures
from attnviz.plot.render import render_figure

__all__ = ["heatmap", "head_figures", "layer_average_figures", "render_figure", "save_figures"]
