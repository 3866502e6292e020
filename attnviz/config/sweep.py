"""The sweep's job list: the validated sweep and every figure, comparison and (model, prompt)
pair the Snakefile enumerates."""

from __future__ import annotations

from dataclasses import dataclass

from attnviz.catalogue import VIEWS, compared_view
from attnviz.config.schemas import ModelConfig, PromptConfig, PromptSetConfig, SweepConfig


@dataclass
class Sweep:
    """The validated sweep: what the Snakefile enumerates."""

    config: SweepConfig

    @property
    def models(self) -> dict[str, ModelConfig]:
        return self.config.model

    @property
    def prompt_sets(self) -> dict[str, PromptSetConfig]:
        return self.config.prompts

    def views(self, model: str, prompt: PromptConfig | None = None) -> list[str]:
        """The selected modes that fit this model's architecture (and, given a prompt, that
        have something to show for it: generation views need generated tokens,
        question_context a question/context pair)."""
        arch = self.models[model].architecture
        generates = prompt is not None and prompt.max_new_tokens is not None
        paired = prompt is not None and prompt.question is not None
        return [
            name
            for name in self.config.mode
            if VIEWS[name].architecture == arch
            and (prompt is None or generates or not VIEWS[name].needs_generation)
            and (prompt is None or paired or not VIEWS[name].needs_pair)
        ]

    def pairs(self):
        """(model, prompt set, prompt) for every prompt of every set, for every model."""
        for model in self.models:
            for set_name, prompt_set in self.prompt_sets.items():
                for prompt in prompt_set.prompts:
                    yield model, set_name, prompt

    def figures(self, model: str, prompt: PromptConfig):
        """(view, layout, variant) of every figure drawn for this model and prompt."""
        for view in self.views(model, prompt):
            for layout in self.config.plot.layouts:
                if layout not in VIEWS[view].layouts:
                    continue
                for variant in self.config.plot.variants:
                    yield view, layout, variant

    def prompt_ids(self, prompt_set: str) -> list[str]:
        return [p.id for p in self.prompt_sets[prompt_set].prompts]

    def prompt(self, prompt_set: str, prompt_id: str) -> PromptConfig:
        return next(p for p in self.prompt_sets[prompt_set].prompts if p.id == prompt_id)

    def comparison_views(self, name: str, prompt: PromptConfig) -> list[str]:
        """The view compared in each model of comparison `name`, in its order, for `prompt`."""
        comparison = self.config.comparison[name]
        generates = prompt.max_new_tokens is not None
        return [
            comparison.view or compared_view(self.models[model].architecture, generates)
            for model in comparison.models
        ]

    def comparisons(self):
        """(comparison, prompt set, prompt, kind) of every comparison figure."""
        for name, comparison in self.config.comparison.items():
            for set_name in comparison.prompt_sets or self.prompt_sets:
                for prompt in self.prompt_sets[set_name].prompts:
                    for kind in comparison.kinds:
                        yield name, set_name, prompt, kind
