"""Where a sweep's results live: every path, written once.

Each function gives one kind of file. Called with names it gives that file's path; called
without some, it leaves `{model}`, `{prompt_set}`, ... in their place: the pattern a workflow
rule matches (`record()` is "results/{model}/{prompt_set}/{prompt}/attention.pt"). Names are
checked by the configuration (letters, digits, '_', '-', '.'), so none holds a brace.
Paths are relative to the working directory of the run. Imports nothing: the Snakefile reads it
when it is parsed.
"""

from __future__ import annotations

RESULTS = "results"
MODELS = f"{RESULTS}/models"  # the demo models, built once
LOGS = f"{RESULTS}/logs"
REPORT = f"{RESULTS}/report.pdf"
INDEX = f"{RESULTS}/index.html"
SWEEP_STATS = f"{RESULTS}/head_stats.csv"  # the head statistics of the whole sweep


def demo_model(demo: str = "{demo}") -> str:
    """The folder a demo model is built into."""
    return f"{MODELS}/{demo}"


def model_set(model: str = "{model}", prompt_set: str = "{prompt_set}") -> str:
    """The folder of one model's results on one prompt set."""
    return f"{RESULTS}/{model}/{prompt_set}"


def record(model: str = "{model}", prompt_set: str = "{prompt_set}", prompt: str = "{prompt}"):
    """One prompt's record: the attention one model paid to it."""
    return f"{model_set(model, prompt_set)}/{prompt}/attention.pt"


def figure(
    model: str = "{model}",
    prompt_set: str = "{prompt_set}",
    prompt: str = "{prompt}",
    view: str = "{view}",
    layout: str = "{layout}",
    variant: str = "{variant}",
) -> str:
    """One figure of one record."""
    return f"{model_set(model, prompt_set)}/{prompt}/{view}/{layout}-{variant}.pdf"


def head_stats(model: str = "{model}", prompt_set: str = "{prompt_set}") -> str:
    """The head statistics of every prompt, layer and head of one model on one prompt set."""
    return f"{model_set(model, prompt_set)}/head_stats.csv"


def head_summary(model: str = "{model}", prompt_set: str = "{prompt_set}") -> str:
    """The figure of those statistics' means over the prompt set."""
    return f"{model_set(model, prompt_set)}/head_summary.pdf"


def viewer_dir(model: str = "{model}", prompt_set: str = "{prompt_set}") -> str:
    """The interactive viewer's pages of one model on one prompt set."""
    return f"{model_set(model, prompt_set)}/viewer"


def viewer_page(model: str = "{model}", prompt_set: str = "{prompt_set}", prompt: str = "{prompt}"):
    """One prompt's viewer page (its per-head data in `<prompt>_files/` beside it)."""
    return f"{viewer_dir(model, prompt_set)}/{prompt}.html"


def comparison(
    name: str = "{comparison}",
    prompt_set: str = "{prompt_set}",
    prompt: str = "{prompt}",
    kind: str = "{kind}",
) -> str:
    """One figure of a comparison: one prompt across the comparison's models."""
    return f"{RESULTS}/comparisons/{name}/{prompt_set}/{prompt}/{kind}.pdf"


def thumbnail(pdf: str) -> str:
    """The PNG of a figure's first page, beside it (for the HTML index)."""
    return pdf.removesuffix(".pdf") + ".png"


def log(rule: str, *names: str) -> str:
    """The log of a job of `rule`, in a folder per name but the last: log("plot_figures",
    "minilm", "demo") is results/logs/plot_figures/minilm/demo.log."""
    return "/".join([LOGS, rule, *names]) + ".log"
