"""The sweep configuration, in three parts that know nothing of torch, matplotlib or the figures
(it is imported when the Snakefile is parsed):

- `schemas`: a dataclass per group in `conf/` (their defaults are the pipeline's) and `checked`;
- `checks` and `compose`: Hydra's compose API run once, the result checked against the schemas,
  names, paths and combinations checked, cached per workflow;
- `sweep`: the validated `Sweep`, the jobs the Snakefile enumerates.

The names every stage imports are re-exported here: `from attnviz.config import PlotConfig`.
"""

from attnviz.config.checks import (
    check_choice,
    check_extract,
    check_name,
    check_plot,
    check_prompt_fits,
    model_source,
)
from attnviz.config.compose import (
    CONF_DIR,
    WORKFLOW_KEYS,
    cached_sweep,
    compose_sweep,
    sweep_from_workflow_config,
    sweep_key,
)
from attnviz.config.schemas import (
    VIEWER_STYLE_KEYS,
    ComparisonConfig,
    ExtractConfig,
    ModeConfig,
    ModelConfig,
    PlotConfig,
    PromptConfig,
    PromptSetConfig,
    SweepConfig,
    checked,
    literally_checked,
)
from attnviz.config.sweep import Sweep

__all__ = [
    "CONF_DIR",
    "VIEWER_STYLE_KEYS",
    "WORKFLOW_KEYS",
    "ComparisonConfig",
    "ExtractConfig",
    "ModeConfig",
    "ModelConfig",
    "PlotConfig",
    "PromptConfig",
    "PromptSetConfig",
    "Sweep",
    "SweepConfig",
    "cached_sweep",
    "check_choice",
    "check_extract",
    "check_name",
    "check_plot",
    "check_prompt_fits",
    "checked",
    "compose_sweep",
    "literally_checked",
    "model_source",
    "sweep_from_workflow_config",
    "sweep_key",
]
