"""`python -m attnviz view --model_path ... --model_id ... --prompt ... --save_fig_path ./vis`:
Attention-Viewer's main.py for one-off runs (the pipeline is `snakemake`)."""

from __future__ import annotations

import argparse
import re
import sys

from attnviz.errors import AttnvizError

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def unescape(text: str) -> str:
    """`\\n`, `\\t`, `\\r` and `\\\\` typed in a shell prompt become a newline, tab, carriage
    return and one backslash (as Attention-Viewer's main.py reads them); every other character,
    backslashes before anything else and non-ASCII text included, stays as typed."""
    return re.sub(r"\\([ntr\\])", lambda m: _ESCAPES[m.group(1)], text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attnviz")
    commands = parser.add_subparsers(dest="command", required=True)
    view = commands.add_parser("view", help="Attention-Viewer's heatmaps of one prompt")
    view.add_argument("--model_path", required=True, help="a local model folder")
    view.add_argument("--model_id", required=True, help="the name of the result folder")
    view.add_argument("--prompt", required=True, help="the text; \\n, \\t and \\\\ are escapes")
    view.add_argument("--save_fig_path", default="./vis")
    view.add_argument("--plot_figs_per_head", action="store_true")
    view.add_argument("--ignore_first_token", action="store_true")
    view.add_argument("--num_figs_per_row", type=int, default=4)
    view.add_argument("--save_attention_scores_path", default=None)
    view.add_argument("--trust_remote_code", action="store_true")
    args = parser.parse_args(argv)
    try:
        from attnviz.api import view_attention
        from attnviz.config import ModelConfig
        from attnviz.models import load_model

        model, tokenizer = load_model(
            ModelConfig(
                architecture="auto",
                path=args.model_path,
                trust_remote_code=args.trust_remote_code,
            ),
            args.model_path,
            args.model_id,
        )
        view_attention(
            model=model,
            model_id=args.model_id,
            tokenizer=tokenizer,
            prompt=unescape(args.prompt),
            save_attention_scores=args.save_attention_scores_path is not None,
            save_attention_scores_path=args.save_attention_scores_path,
            save_fig_path=args.save_fig_path,
            plot_figs_per_head=args.plot_figs_per_head,
            ignore_first_token=args.ignore_first_token,
            num_figs_per_row=args.num_figs_per_row,
        )
    except AttnvizError as exc:
        print(f"attnviz: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
