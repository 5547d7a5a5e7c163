"""Translation quality: the attention seq2seq and the plain seq2seq, corpus BLEU with sacrebleu.

Full mode: Multi30k German→English (WMT16 multimodal task 1), trained on `train` (29,000
pairs), validated on `val`, tested on `test_2016_flickr` (1,000 pairs). Each recipe runs in a
fresh process with its own defaults plus the word-level options for real text given in its
docstring (`WORD_LEVEL` below: words and punctuation marks as tokens, case kept, 8,000-token
vocabularies, a wider LSTM with dropout). BLEU is sacrebleu's corpus BLEU on detokenized,
cased outputs against the raw references, the figure papers publish; greedy decoding. The
target is 28 BLEU for the attention seq2seq (public replications of an RNN encoder-decoder
with attention), with at most 90 minutes of training on CPU.

Quick mode: the recipes' embedded default, dates in many formats → ISO dates, character
level, on fewer pairs and epochs: minutes on 2 cores.
"""

import json
import os
import tempfile

from benchmarks.harness import Report, run_script

NAME = "translation"
TITLE = "Translation: attention vs plain seq2seq, sacrebleu BLEU (Multi30k de→en test_2016)"

MODELS = ["attention_seq2seq", "seq2seq"]
TARGET_BLEU = 28.0  # attention seq2seq, Multi30k de→en test_2016
TRAINING_BUDGET_MIN = 90

# The word-level options of the recipes' docstrings, for real sentences.
WORD_LEVEL = [
    *("--split", "whitespace"),
    *("--standardize", "split_punctuation"),
    *("--max-tokens", "8000"),
    *("--max-length", "60"),
    *("--max-decode-length", "60"),
    *("--set", "model_args.embedding_dim=256"),
    *("--set", "model_args.latent_dim=512"),
    *("--set", "model_args.dropout=0.3"),
    *("--learning-rate", "1e-3"),
    *("--epochs", "12"),
]
QUICK = ["--num-examples", "6000", "--epochs", "3"]


def multi30k(data_dir, source="de", target="en"):
    """The recipe options that read Multi30k's gzip'd files from `data_dir`."""
    folder = os.path.join(data_dir, "translation")

    def pair(split):
        return [os.path.join(folder, f"multi30k.{split}.{lang}.gz") for lang in (source, target)]

    return [
        *("--train-file", *pair("train")),
        *("--valid-file", *pair("val")),
        *("--test-file", *pair("test_2016_flickr")),
    ]


def run(args):
    base = tempfile.mkdtemp(prefix="kzoo-bench-translation-")
    data = [] if args.quick else multi30k(args.data_dir)
    options = QUICK if args.quick else WORD_LEVEL
    rows, notes = [], []
    for name in args.only or MODELS:
        run_dir = os.path.join(base, name)
        arguments = [*data, *options, "--output-dir", run_dir, "--no-export"]
        log = os.path.join(base, f"{name}.log")
        code, wall, peak = run_script(f"recipes/{name}.py", arguments, log)
        if code != 0:
            rows.append([name, "failed", "", "", "", f"{wall / 60:.1f}", f"{peak:.0f}"])
            with open(log, encoding="utf-8") as f:
                notes.append(f"`{name}` failed:\n\n```\n{f.read()[-3000:]}\n```")
            continue
        with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as f:
            metrics = json.load(f)
        test = metrics["test"]
        rows.append(
            [
                name,
                round(test["bleu"], 2),
                round(test["rougeL"], 2),
                round(test["exact_match"], 4),
                _history_epochs(run_dir),
                f"{wall / 60:.1f}",
                round(peak),
            ]
        )
        notes.append(
            f"`{name}` test samples:\n\n```\n" + "\n".join(test.get("examples", [])) + "\n```"
        )
    if not args.quick:
        attention = next(
            (r for r in rows if r[0] == "attention_seq2seq" and r[1] != "failed"), None
        )
        if attention:
            gap = attention[1] - TARGET_BLEU
            notes.insert(
                0,
                f"Target: attention seq2seq ≥ {TARGET_BLEU} BLEU in ≤ {TRAINING_BUDGET_MIN} min of "
                f"CPU training. Reached {attention[1]:.2f} BLEU ({gap:+.2f}) in a "
                f"{attention[5]:.1f} min run (data, training and the test decoding together).",
            )
    return Report(
        columns=[
            "model",
            "test BLEU",
            "test ROUGE-L",
            "exact match",
            "epochs",
            "run min (training + evaluation)",
            "peak RSS MiB",
        ],
        rows=rows,
        notes=notes,
        settings={
            "mode": "quick (embedded dates)" if args.quick else "full (Multi30k de→en)",
            "data": (
                "kzoo embedded date pairs, 6,000, seeded 90/10 test split"
                if args.quick
                else "Multi30k train / val / test_2016_flickr, German → English"
            ),
            "recipe options": " ".join(options),
            "metric": f"sacrebleu corpus BLEU ({_bleu_signature()}), greedy decoding",
            "seed": "0 (recipe default)",
        },
    )


def _bleu_signature():
    import sacrebleu

    bleu = sacrebleu.BLEU()
    bleu.corpus_score(["a"], [["a"]])  # the signature names the reference count once used
    return str(bleu.get_signature())


def _history_epochs(run_dir):
    with open(os.path.join(run_dir, "history.csv"), encoding="utf-8") as f:
        return max(0, sum(1 for _ in f) - 1)
