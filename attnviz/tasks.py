"""What the sweep's jobs are given: the records each reads with what each must have been made
for, and the figures each batched job draws (`attnviz.plot.batch.FigureTask` and
`ComparisonTask` fields), as plain data for the rules' params. Paths come from
`attnviz.paths`; which figures a sweep draws, from `attnviz.config.Sweep`."""

from __future__ import annotations

from dataclasses import asdict

from attnviz import paths


def expectation(sweep, model: str, prompt_set: str, prompt_id: str) -> dict:
    """What a record must have been made for (`attnviz.record.check_expected`): checked by
    each job that reads it."""
    prompt = asdict(sweep.prompt(prompt_set, prompt_id))
    return {"model": model, "prompt": prompt, "settings": asdict(sweep.config.extract)}


def set_records(sweep, prompt_set: str, model: str = "{model}") -> list[str]:
    """The records of one model (or the `{model}` pattern) on a prompt set: one per prompt."""
    return [paths.record(model, prompt_set, prompt) for prompt in sweep.prompt_ids(prompt_set)]


def set_expectations(sweep, model: str, prompt_set: str) -> list[dict]:
    """`expectation` of each of `set_records`, in their order."""
    return [expectation(sweep, model, prompt_set, p) for p in sweep.prompt_ids(prompt_set)]


def set_tasks(sweep, model: str, prompt_set: str) -> list[dict]:
    """The figures one job draws, every figure of a model on a set, grouped by record."""
    tasks = []
    for prompt in sweep.prompt_sets[prompt_set].prompts:
        expected = expectation(sweep, model, prompt_set, prompt.id)
        for view, layout, variant in sweep.figures(model, prompt):
            figure = paths.figure(model, prompt_set, prompt.id, view, layout, variant)
            tasks.append(
                dict(
                    record=paths.record(model, prompt_set, prompt.id),
                    expected=expected,
                    view=view,
                    layout=layout,
                    variant=variant,
                    figure=figure,
                    thumbnail=paths.thumbnail(figure),
                )
            )
    return tasks


def comparison_sets(sweep) -> list[tuple[str, str]]:
    """(comparison, prompt set) of every comparison job."""
    return sorted({(name, prompt_set) for name, prompt_set, _, _ in sweep.comparisons()})


def comparison_tasks(sweep, name: str, prompt_set: str) -> list[dict]:
    """The figures of comparison `name` on a prompt set."""
    models = sweep.config.comparison[name].models
    tasks = []
    for compared, set_name, prompt, kind in sweep.comparisons():
        if (compared, set_name) == (name, prompt_set):
            figure = paths.comparison(name, prompt_set, prompt.id, kind)
            tasks.append(
                dict(
                    records=[paths.record(m, prompt_set, prompt.id) for m in models],
                    expected=[expectation(sweep, m, prompt_set, prompt.id) for m in models],
                    views=sweep.comparison_views(name, prompt),
                    kind=kind,
                    figure=figure,
                    thumbnail=paths.thumbnail(figure),
                )
            )
    return tasks


def comparison_records(sweep, name: str, prompt_set: str) -> list[str]:
    """Every record a comparison job reads."""
    tasks = comparison_tasks(sweep, name, prompt_set)
    return sorted({record for task in tasks for record in task["records"]})


def comparison_settings(sweep, name: str) -> dict:
    """What of a comparison's config its figures need: layer, head, word_level."""
    comparison = sweep.config.comparison[name]
    return {k: getattr(comparison, k) for k in ("layer", "head", "word_level")}
