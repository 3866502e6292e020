"""IzzyViz's API on attnviz's engine: `from attnviz.izzyviz import ...` for the names IzzyViz's
package exports, `from attnviz.izzyviz.visualization import ...` for the older functions its
README documents (encoder-only, decoder-only, encoder-decoder)."""

from attnviz.izzyviz.heatmaps import (
    visualize_attention_encoder_decoder,
    visualize_attention_self_attention,
)
from attnviz.izzyviz.overlays import (
    check_stability_heatmap_with_gradient_color,
    compare_two_attentions_with_circles,
    find_attention_regions_with_merging,
    visualize_attention_evolution_sparklines,
    visualize_attention_with_detected_regions,
)

__all__ = [
    "check_stability_heatmap_with_gradient_color",
    "compare_two_attentions_with_circles",
    "find_attention_regions_with_merging",
    "visualize_attention_encoder_decoder",
    "visualize_attention_evolution_sparklines",
    "visualize_attention_self_attention",
    "visualize_attention_with_detected_regions",
]
