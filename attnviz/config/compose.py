"""Composition: `conf/` through Hydra's compose API once, checked against the schemas and as a
whole, cached per workflow, Hydra's errors explained in one line.

It knows nothing of torch or matplotlib; it is imported when the Snakefile is parsed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import sys
from dataclasses import asdict, fields
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from attnviz.atomic import atomic_path
from attnviz.catalogue import (
    VIEWS,
    views_for,
)
from attnviz.config.checks import (
    check_comparison,
    check_extract,
    check_head_selection,
    check_model,
    check_name,
    check_plot,
    check_prompt_fits,
    check_prompt_set,
    model_source,
)
from attnviz.config.schemas import SweepConfig, checked, literally_checked
from attnviz.config.sweep import Sweep
from attnviz.errors import AttnvizError
from attnviz.values import check_indices

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"

WORKFLOW_KEYS = ("experiment", "overrides")
SCHEMA_GROUPS = ("model", "plot", "extract")  # conf/ states only what differs from the schema

_NOT_PROMPTS = [f.name for f in fields(SweepConfig) if f.name != "prompts"]


def sweep_from_workflow_config(config: dict, conf_dir: Path = CONF_DIR) -> Sweep:
    """The sweep for a Snakemake run: `--config experiment=<name> overrides='<overrides>'`."""
    unknown = sorted(set(config) - set(WORKFLOW_KEYS))
    if unknown:
        raise AttnvizError(
            f"snakemake --config: unknown key {', '.join(unknown)}; use experiment=<name> "
            "and/or overrides='<Hydra overrides, space separated>'"
        )
    overrides, experiment = config.get("overrides") or [], config.get("experiment")
    if experiment is not None and not isinstance(experiment, str):
        raise AttnvizError(
            f"snakemake --config: experiment={experiment} is not the name of a saved sweep; "
            "give a file name of conf/experiment/, e.g. experiment=smoke"
        )
    if not isinstance(overrides, (str, list)) or not all(isinstance(o, str) for o in overrides):
        raise AttnvizError(
            f"snakemake --config: overrides={overrides} is not Hydra overrides; give "
            "key=value words, e.g. overrides='model=[minilm] plot.gamma=0.5'"
        )
    if isinstance(overrides, str):
        try:
            overrides = shlex.split(overrides)
        except ValueError as exc:
            raise AttnvizError(
                f"snakemake --config: overrides='{overrides}' cannot be split into words ({exc}); "
                "check its quotes"
            ) from None
    return compose_sweep(overrides, experiment, conf_dir)


def sweep_key(config: dict, conf_dir: Path = CONF_DIR) -> str:
    """What a composed sweep depends on: the workflow config, every file in `conf_dir` and
    attnviz's own modules (the schemas and checks, and the catalogue of names they check)."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    package = Path(__file__).resolve().parents[1]  # attnviz/
    modules = sorted([*package.glob("*.py"), *package.glob("config/*.py")])
    conf = sorted(Path(conf_dir).rglob("*.yaml"))
    for path, base in [*((m, package) for m in modules), *((c, Path(conf_dir)) for c in conf)]:
        digest.update(str(path.relative_to(base)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cached_sweep(config: dict, conf_dir: Path, cache_dir: Path) -> Sweep:
    """`sweep_from_workflow_config`, composed once per workflow: the validated sweep is kept in
    `cache_dir` under `sweep_key`, so every later parse of the Snakefile with the same
    configuration (each cluster job parses it again) reads it back instead of importing Hydra
    and composing again."""
    path = Path(cache_dir) / f"sweep-{sweep_key(config, conf_dir)}.json"
    if path.exists():
        try:
            cached = json.loads(path.read_text())  # resolved already; prompts taken literally
            sweep = Sweep(literally_checked(SweepConfig, cached, f"cached {path}"))
        except (ValueError, AttnvizError):
            pass  # unreadable or stale: compose again and replace it
        else:
            for name, model in sweep.models.items():
                check_model(name, model)  # a model folder may have gone since
            check_indices(sweep.config, {n: model_source(m) for n, m in sweep.models.items()})
            return sweep
    sweep = sweep_from_workflow_config(config, conf_dir)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(asdict(sweep.config)))
    print(f"attnviz: composed {conf_dir} into {path}", file=sys.stderr)
    return sweep


def compose_sweep(
    overrides: list[str] = (), experiment: str | None = None, conf_dir: Path = CONF_DIR
) -> Sweep:
    """Compose `conf/config.yaml` with Hydra once, validate it, and return the sweep."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    overrides = [_set_anyway(override) for override in overrides]
    if experiment:
        overrides.append(f"experiment={experiment}")
    try:
        with initialize_config_dir(config_dir=str(Path(conf_dir).resolve()), version_base=None):
            cfg = compose("config", overrides=overrides)
    except HydraException as exc:
        raise AttnvizError(_explain_hydra_error(str(exc), Path(conf_dir))) from None
    except OmegaConfBaseException as exc:
        raise AttnvizError(f"config: {str(exc).splitlines()[0]}") from None
    _check_option_files(Path(conf_dir))
    return Sweep(_validate(cfg, {p.stem for p in (Path(conf_dir) / "model").glob("*.yaml")}))


def _set_anyway(override: str) -> str:
    """`plot.gamma=0.5` as `++plot.gamma=0.5` (set, whether or not the group's file states it)
    for the keys of SCHEMA_GROUPS: their files state only what differs from the schema, which
    holds the defaults (an unknown key is still an error, `checked`'s)."""
    key = override.split("=", 1)[0]
    if "." in key and key.split(".", 1)[0] in SCHEMA_GROUPS and "=" in override:
        return f"++{override}"
    return override


def _explain_hydra_error(message: str, conf_dir: Path) -> str:
    first = message.splitlines()[0]
    missing = re.search(r"Could not (?:find|load) '([^/']+)/([^']+)'", first)
    if missing:
        group, option = missing.groups()
        options = sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))
        return (
            f"config: unknown {group} '{option}'; choose one of {', '.join(options)} "
            f"or add conf/{group}/{option}.yaml"
        )
    hint = next((line for line in message.splitlines()[1:] if line.strip()), "")
    return f"config: {first} {hint}".strip()


def _check_option_files(conf_dir: Path) -> None:
    """Each file of a multi-select group holds one top key, its own name (Hydra's pattern)."""
    import yaml

    for group in ("model", "prompts", "mode"):
        for path in sorted((conf_dir / group).glob("*.yaml")):
            keys = list((yaml.safe_load(path.read_text()) or {}).keys())
            if keys != [path.stem]:
                raise AttnvizError(
                    f"config: {path} must hold one top key, '{path.stem}' (its file name), "
                    f"not {', '.join(map(str, keys)) or 'nothing'}"
                )


def _validate(cfg, model_options: set[str]) -> SweepConfig:
    """The checked sweep; `model_options`: the models conf/model/ offers (a comparison of models
    that exist but are not selected is left out, not an error)."""
    # Prompt text is taken literally: "${HOME}" in a prompt is text, not an interpolation.
    sweep: SweepConfig = checked(SweepConfig, OmegaConf.masked_copy(cfg, _NOT_PROMPTS))
    prompts = OmegaConf.to_container(cfg.prompts, resolve=False) if "prompts" in cfg else {}
    sweep.prompts = literally_checked(SweepConfig, {"prompts": prompts}).prompts

    for name, model in sweep.model.items():
        check_model(check_name("model name", name), model)
    for name, prompt_set in sweep.prompts.items():
        check_prompt_set(check_name("prompt set name", name), prompt_set)
    for name, mode in sweep.mode.items():  # a file in conf/mode/ names a view of the catalogue
        if name not in VIEWS:
            raise AttnvizError(f"config: unknown mode '{name}'; choose from {', '.join(VIEWS)}")
        if mode.architecture not in (None, VIEWS[name].architecture):
            raise AttnvizError(
                f"config: mode '{name}' is for {VIEWS[name].architecture} models, "
                f"not {mode.architecture}; remove architecture from conf/mode/{name}.yaml"
            )
        mode.architecture = VIEWS[name].architecture
    check_plot(sweep.plot)
    check_extract(sweep.extract)
    rollouts = [name for name in sweep.mode if VIEWS[name].rollout]
    if rollouts and sweep.extract.layers is not None:
        raise AttnvizError(
            f"config: mode {rollouts[0]} multiplies every layer but extract.layers keeps "
            f"{sweep.extract.layers} only; set extract.layers=null or drop the rollout modes"
        )
    check_head_selection(sweep)
    sweep.comparison = {
        name: comparison
        for name, comparison in sweep.comparison.items()
        if check_comparison(check_name("comparison name", name), comparison, sweep, model_options)
    }
    if not sweep.model:
        raise AttnvizError("config: no model selected; pass e.g. overrides='model=[minilm]'")
    if not sweep.prompts:
        raise AttnvizError("config: no prompt set selected; pass e.g. overrides='prompts=[demo]'")
    check_indices(sweep, {name: model_source(model) for name, model in sweep.model.items()})
    for name, model in sweep.model.items():
        for set_name, prompt_set in sweep.prompts.items():
            for prompt in prompt_set.prompts:
                try:
                    check_prompt_fits(prompt, model.architecture)
                except AttnvizError as exc:
                    raise AttnvizError(f"config: model '{name}', set '{set_name}': {exc}") from None
        if not any(VIEWS[mode].architecture == model.architecture for mode in sweep.mode):
            raise AttnvizError(
                f"config: no selected mode fits model '{name}' ({model.architecture}); "
                f"add one of {', '.join(views_for(model.architecture))} to mode"
            )
    return sweep
