"""The sweep configuration: composition, schemas, and one-line errors for bad input."""

from __future__ import annotations

import shutil

import pytest

from attnviz.config import CONF_DIR, cached_sweep, compose_sweep, sweep_from_workflow_config
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
    style.write_text(style.read_text().replace("num_figs_per_row: 4", "num_figs_per_row: 2"))
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
