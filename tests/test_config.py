"""The sweep configuration: composition, schemas, and one-line errors for bad input."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from attnviz.catalogue import DEMO_MODELS, VIEWS
from attnviz.config import (
    CONF_DIR,
    ExtractConfig,
    ModelConfig,
    PlotConfig,
    cached_sweep,
    compose_sweep,
    sweep_from_workflow_config,
)
from attnviz.errors import AttnvizError


def test_default_sweep_is_three_demo_models_with_fitting_modes():
    sweep = compose_sweep()
    assert list(sweep.models) == [
        "minilm",
        "smollm2",
        "t5_tiny",
        "tinylm_step0",
        "tinylm_step50",
        "tinylm_step200",
        "tinylm_seed1",
        "tinylm_seed2",
    ]
    assert list(sweep.prompt_sets) == ["demo"]
    assert sweep.views("minilm") == ["self_attention", "rollout"]
    assert sweep.views("smollm2") == ["full_sequence", "full_sequence_rollout"]
    assert sweep.views("t5_tiny") == [
        "encoder_self_attention",
        "decoder_self_attention",
        "cross_attention",
        "encoder_rollout",
    ]
    assert sweep.models["minilm"].trust_remote_code is False
    assert sweep.config.plot.layouts == ["layer_average", "heads"]
    assert sweep.config.plot.heads == "bottom_k_by_entropy"
    fox = sweep.prompt_sets["demo"].prompts[0]
    figures = list(sweep.figures("minilm", fox))
    assert ("rollout", "layer_average", "plain") in figures
    assert ("rollout", "heads", "plain") not in figures  # rollout has no heads
    views = sweep.comparison_views("encoder_vs_decoder", fox)
    assert views == ["self_attention", "full_sequence"]
    assert sweep.config.comparison["encoder_vs_decoder"].word_level is True
    comparisons = list(sweep.comparisons())
    assert len(comparisons) == 2 * 2 * 2 + 2 + 2  # two kinds each, then stability, evolution
    assert comparisons[0][:2] == ("same_tokenizer", "demo") and comparisons[0][3] == "difference"


def test_comparisons_of_models_left_out_of_the_sweep_are_left_out(capsys):
    sweep = compose_sweep(["model=[minilm,t5_tiny]"])
    assert list(sweep.config.comparison) == ["same_tokenizer"]
    err = capsys.readouterr().err
    assert "comparison 'encoder_vs_decoder' left out: smollm2 not in this sweep" in err


def test_prompts_that_generate_compare_their_source():
    sweep = sweep_from_workflow_config(
        {
            "experiment": "generation",
            "overrides": "prompts=[demo,demo_generation] +comparison.x.models=[smollm2,t5_tiny]",
        }
    )
    generating = sweep.prompt_sets["demo_generation"].prompts[0]
    plain = sweep.prompt_sets["demo"].prompts[0]
    assert sweep.comparison_views("x", plain) == ["full_sequence", "encoder_self_attention"]
    assert sweep.comparison_views("x", generating) == [
        "self_attention_source",  # each model continues the prompt its own way
        "encoder_self_attention",
    ]


def test_experiment_and_overrides_change_the_sweep():
    sweep = sweep_from_workflow_config(
        {
            "experiment": "smoke",
            "overrides": "plot.num_figs_per_row=3 model=[t5_tiny] comparison=[]",
        }
    )
    assert list(sweep.models) == ["t5_tiny"]
    assert list(sweep.prompt_sets) == ["tiny"]
    assert sweep.config.plot.num_figs_per_row == 3
    assert sweep.config.plot.layouts == ["layer_average"]


def test_hub_and_path_models_are_accepted(tmp_path):
    sweep = compose_sweep(
        [
            f"+model.local.path={tmp_path}",
            "+model.local.architecture=decoder",
            "+model.hub.hub_id=org/name",
            "+model.hub.architecture=encoder",
            "+model.hub.revision=abc123",
        ]
    )
    assert sweep.models["local"].path == str(tmp_path)
    assert sweep.models["hub"].revision == "abc123"


NO_ROLLOUT = "mode=[self_attention,full_sequence,encoder_self_attention,cross_attention]"


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["model=[nope]"],
            "unknown model 'nope'; choose one of gemma3_270m, gpt2, minilm, smollm2, t5_tiny",
        ),
        (["+model.minilm.colour=red"], "unknown key 'model.minilm.colour'"),
        (["+plot.colour=red"], "unknown key 'plot.colour'"),
        (["plot.num_figs_per_row=many"], "wrong value for 'plot.num_figs_per_row'"),
        (["prompts.demo.prompts=[]"], "prompt set 'demo' has no prompts"),
        (
            ["+model.x.path=/no/such/dir", "+model.x.architecture=decoder"],
            "path '/no/such/dir' is not a folder",
        ),
        (
            ["+model.x.hub_id=gpt2", "+model.x.demo=minilm", "+model.x.architecture=decoder"],
            "exactly one of hub_id, path or demo",
        ),
        (["+model.x.hub_id=gpt2", "+model.x.architecture=rnn"], "architecture is 'rnn'"),
        (
            ["+model.x.path=/tmp", "+model.x.gguf_file=no.gguf", "+model.x.architecture=decoder"],
            "model 'x': gguf_file 'no.gguf' is not a file in path '/tmp'; give the GGUF file's",
        ),
        (["model.minilm.device=tpu"], "device is 'tpu'"),
        (["model.minilm.mem_gb=0"], "model.minilm.mem_gb is 0.0; give a positive number"),
        (["experiment=nope"], "unknown experiment 'nope'"),
        (["mode=[self_attention]"], "no selected mode fits model 'smollm2'"),
        (["plot.layouts=[spiral]"], "plot.layouts is 'spiral'"),
        (["plot.heads=top_k_by_focus"], "plot.heads: unknown statistic 'focus' in 'top_k_by_foc"),
        (["plot.heads=top_heads"], "plot.heads: head selection 'top_heads' is malformed; write"),
        (["plot.top_k=0"], "plot.top_k is 0; choose at least 1 head"),
        (["extract.layers=[-1]"], "mode rollout multiplies every layer but extract.layers keeps"),
        (
            ["+comparison.x.models=[minilm,smollm3]"],
            "comparison 'x': unknown model 'smollm3'; choose from gemma3_270m, gpt2, minilm,",
        ),
        (["plot.heads=top_k_by_diagonal"], "view cross_attention of model 't5_tiny' has no diag"),
        (["plot.heads=bottom_k_by_generated_to_source"], "view self_attention of model 'minilm'"),
        (["extract.head_mean=true"], "plot.heads=bottom_k_by_entropy picks heads but extract.he"),
        (
            [
                "extract.heads=[0,1]",
                "extract.layers=[0,-1]",
                "mode=[self_attention,full_sequence,encoder_self_attention]",
            ],
            "plot.top_k is 8 but extract keeps 4 heads (2 layers x 2); choose at most 4",
        ),
        (
            ["+comparison.x.models=[minilm,smollm2,t5_tiny]"],
            "comparison 'x': comparison 'difference' shows exactly 2 models but 3 were given",
        ),
        (
            ["+comparison.x.models=[minilm,smollm2]", "+comparison.x.kinds=[heatmap]"],
            "comparison 'x': kinds is 'heatmap'",
        ),
        (
            ["+comparison.x.models=[minilm,smollm2]", "+comparison.x.view=cross_attention"],
            "view 'cross_attention' does not fit model 'minilm' (encoder)",
        ),
        (
            ["+comparison.x.models=[minilm,smollm2]", "+comparison.x.prompt_sets=[nope]"],
            "prompt set 'nope' is not in the sweep",
        ),
        (["+comparison.x.model=[minilm]"], "unknown key 'comparison.x.model'"),
        # every static plot and extract value, before any job runs (issue 18)
        (["plot.gamma=0"], "plot.gamma is 0.0; give a number above 0 (1 is linear)"),
        (["plot.gamma=-1"], "plot.gamma is -1.0; give a number above 0"),
        (["plot.gamma=nan"], "plot.gamma is nan; give a number above 0"),
        (["plot.regions=[[1,2]]"], "plot.regions has [1, 2]; give each box as [top, left, bott"),
        (["plot.regions=[[3,0,1,2]]"], "plot.regions has [3, 0, 1, 2]; give each box as"),
        (["plot.top_n=-1"], "plot.top_n is -1; give a number at least 0"),
        (["plot.panel_inches=0"], "plot.panel_inches is 0.0; give a number above 0 and at most"),
        (["plot.panel_inches=inf"], "plot.panel_inches is inf; give a number above 0"),
        (["plot.enlarged_size=0"], "plot.enlarged_size is 0.0; give a number at least 1"),
        (["plot.max_labels=0"], "plot.max_labels is 0; give a number at least 1"),
        (["plot.region_alpha=2"], "plot.region_alpha is 2.0; give a number at least 0 and at m"),
        (["plot.vmin=1", "plot.vmax=0"], "plot.vmin (1.0) must be below vmax (0.0)"),
        (["plot.cmap=nope"], "plot.cmap is 'nope', which matplotlib does not know"),
        (["plot.region_color=blurple"], "plot.region_color is 'blurple', not a colour"),
        (["extract.layers=[6]", NO_ROLLOUT], "extract.layers has 6, out of range: 'minilm' has 6"),
        (["extract.heads=[-13]", NO_ROLLOUT], "extract.heads has -13, out of range: 'minilm' has"),
        (["extract.layers=[]", NO_ROLLOUT], "extract.layers is []; list the indices to keep"),
        (["plot.layouts=[single]", "plot.layer=6"], "plot.layer is 6, out of range: 'minilm' st"),
        (["plot.layouts=[single]", "plot.head=12"], "plot.head is 12, out of range: 'minilm' st"),
        (
            ["+comparison.x.models=[minilm,smollm2]", "+comparison.x.layer=-7"],
            "comparison.x.layer is -7, out of range: 'minilm' stores 6 layers; choose -6..5",
        ),
    ],
)
def test_bad_config_is_a_one_line_error(overrides, message):
    with pytest.raises(AttnvizError) as err:
        compose_sweep(overrides)
    text = str(err.value)
    assert "\n" not in text and text.startswith("config:")
    assert message in text


def test_empty_prompt_text_is_an_error():
    with pytest.raises(AttnvizError, match="prompt 'x' in set 'demo' has an empty text"):
        compose_sweep(["prompts.demo.prompts=[{id: x, text: '  '}]"])


def test_prompt_ids_become_safe_folder_names():
    with pytest.raises(AttnvizError, match="cannot be used as a folder name"):
        compose_sweep(["prompts.demo.prompts=[{id: ../etc, text: hi}]"])


def test_unknown_snakemake_config_key_is_an_error():
    with pytest.raises(AttnvizError, match="unknown key experimnet"):
        sweep_from_workflow_config({"experimnet": "smoke"})


def test_unbalanced_quotes_in_overrides_are_a_one_line_error():
    with pytest.raises(AttnvizError, match="cannot be split into words"):
        sweep_from_workflow_config({"overrides": "plot.cmap='magma"})


def test_option_file_must_be_keyed_by_its_name(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    (conf / "model" / "copy.yaml").write_text("minilm:\n  architecture: encoder\n  demo: minilm\n")
    with pytest.raises(AttnvizError, match="must hold one top key, 'copy'"):
        compose_sweep(conf_dir=conf)


def test_sweep_is_composed_once_and_recomposed_when_conf_changes(tmp_path, capsys):
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    cache = tmp_path / "cache"
    config = {"experiment": "smoke"}
    first = cached_sweep(config, conf, cache)
    assert "attnviz: composed" in capsys.readouterr().err
    again = cached_sweep(config, conf, cache)
    assert "attnviz: composed" not in capsys.readouterr().err  # read back, not composed
    assert again.config == first.config and list(again.models) == ["minilm", "t5_tiny"]
    style = conf / "plot" / "default.yaml"
    style.write_text(style.read_text() + "num_figs_per_row: 2\n")
    changed = cached_sweep(config, conf, cache)
    assert "attnviz: composed" in capsys.readouterr().err
    assert changed.config.plot.num_figs_per_row == 2
    cached_sweep({"experiment": "generation"}, conf, cache)
    assert len(list(cache.glob("sweep-*.json"))) == 3


def test_a_damaged_sweep_cache_is_composed_again(tmp_path, capsys):
    cache = tmp_path / "cache"
    cached_sweep({}, CONF_DIR, cache)
    (path,) = cache.glob("sweep-*.json")
    path.write_text('{"plot": {"layouts": "not a list"')
    sweep = cached_sweep({}, CONF_DIR, cache)
    assert "attnviz: composed" in capsys.readouterr().err
    assert sweep.config.plot.layouts == ["layer_average", "heads"]


def test_prompt_text_is_taken_literally(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    texts = ["Home is ${oc.env:HOME}.", "Say ${HOME} and \\${x} {y}"]
    prompts = [{"id": f"p{i}", "text": text} for i, text in enumerate(texts)]
    (conf / "prompts" / "dollars.yaml").write_text(
        yaml.safe_dump({"dollars": {"prompts": prompts}})
    )
    config = {"overrides": "model=[minilm] prompts=[dollars]"}
    for _ in range(2):  # composed, then read back from the cache
        sweep = cached_sweep(config, conf, tmp_path / "cache")
        assert [p.text for p in sweep.prompt_sets["dollars"].prompts] == texts


@pytest.mark.parametrize(
    "config, message",
    [
        ({"overrides": 5}, "overrides=5 is not Hydra overrides; give key=value words"),
        ({"overrides": [1, 2]}, "overrides=[1, 2] is not Hydra overrides"),
        ({"experiment": 5}, "experiment=5 is not the name of a saved sweep"),
    ],
)
def test_snakemake_config_values_of_the_wrong_type_are_one_line(config, message):
    with pytest.raises(AttnvizError, match=re.escape(message)):
        sweep_from_workflow_config(config)


@pytest.mark.parametrize(
    "prompt_id, message",
    [
        ("x" * 300, "is 300 characters long; shorten it to at most 100"),
        ("p" + "x" * 99, "ends in 'x' repeated 99 times"),
        ("x" * 20, "ends in 'x' repeated 20 times, which Snakemake refuses as a wildcard"),
        ("id_" + "ab" * 20, "ends in 'ab' repeated 20 times"),
    ],
)
def test_long_and_periodic_prompt_ids_are_refused(prompt_id, message):
    with pytest.raises(AttnvizError, match=re.escape(message)):
        compose_sweep([f"prompts.demo.prompts=[{{id: {prompt_id}, text: hi}}]"])


def test_conf_states_only_what_differs_from_the_schemas():
    """One home per default: the schema. conf/ restates none of its values, and a mode file
    holds no architecture (its view's, in the catalogue)."""

    def restated(options: dict, schema) -> list[str]:
        options = {key: value for key, value in options.items() if key != "defaults"}
        return [key for key, value in options.items() if getattr(schema(), key) == value]

    def options(path) -> dict:
        return yaml.safe_load(path.read_text()) or {}

    for group, schema in (("plot", PlotConfig), ("extract", ExtractConfig)):
        assert restated(options(CONF_DIR / group / "default.yaml"), schema) == [], group
    for path in sorted((CONF_DIR / "model").glob("*.yaml")):
        assert restated(options(path)[path.stem], ModelConfig) == [], path.name
    modes = sorted((CONF_DIR / "mode").glob("*.yaml"))
    assert {path.stem for path in modes} == set(VIEWS)
    assert all(options(path) == {path.stem: {}} for path in modes)


def test_the_demo_models_are_listed_once():
    """conf/model/ has a file for each demo model of the catalogue (attnviz.demo_models builds
    them, the Makefile's `models` asks the workflow for all of them)."""
    demos = {
        p.stem: options
        for p in (CONF_DIR / "model").glob("*.yaml")
        for options in yaml.safe_load(p.read_text()).values()
        if "demo" in options
    }
    assert sorted(demos) == sorted(DEMO_MODELS)
    assert all(options["demo"] == name for name, options in demos.items())
