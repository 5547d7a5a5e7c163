"""Translation quality: the Transformer, the attention seq2seq and the plain seq2seq, corpus
BLEU with sacrebleu.

Full mode: Multi30k German→English (WMT16 multimodal task 1), trained on `train` (29,000
pairs), validated on `val`, tested on `test_2016_flickr` (1,000 pairs). Each recipe runs in a
fresh process with its own defaults plus the word-level options for real text given in its
docstring (`WORD_LEVEL` below: words and punctuation marks as tokens, case kept, 8,000-token
vocabularies; a wider LSTM with dropout, or the Transformer at Multi30k's size). BLEU is
sacrebleu's corpus BLEU on detokenized, cased outputs against the raw references, the figure
papers publish. The recipe's own evaluation decodes greedily (the decoder its SavedModel
serves); beside it, the trained model decodes the test sources again with beam search
(`kzoo.generate(run_dir, ..., sampler="beam")`, `kzoo.decoding`'s beam search, `BEAMS`
beams): a decoding choice, not another training run.
The targets, with at most 90 minutes of training on 2 CPU cores: 28 BLEU for the attention
seq2seq (public replications of an RNN encoder-decoder with attention); 36.5 greedy and 38
with beam search for the Transformer (a 3-layer, 256-wide one reaches 36.5 on lower-cased
tokens in bentrevett/pytorch-seq2seq, which is not the same measure). Seconds per epoch and
BLEU per CPU-hour compare what each model buys with the machine's time.

Quick mode: the recipes' embedded default, dates in many formats → ISO dates, character
level, on fewer pairs and epochs: minutes on 2 cores.
"""

import json
import os
import tempfile

from benchmarks.harness import Report, run_or_reuse

NAME = "translation"
TITLE = "Translation: attention vs plain seq2seq, sacrebleu BLEU (Multi30k de→en test_2016)"

MODELS = ["transformer_seq2seq", "attention_seq2seq", "seq2seq"]
# Multi30k de→en test_2016 targets: (greedy, beam), None where none is set.
TARGETS = {"attention_seq2seq": (28.0, None), "transformer_seq2seq": (36.5, 38.0)}
TRAINING_BUDGET_MIN = 90

BEAMS = 4
MAX_DECODE_LENGTH = 60

# The word-level options of the recipes' docstrings, for real sentences.
_TEXT = [
    *("--split", "whitespace"),
    *("--standardize", "split_punctuation"),
    *("--max-tokens", "8000"),
    *("--max-length", "60"),
    *("--max-decode-length", str(MAX_DECODE_LENGTH)),
]
_LSTM = [
    *_TEXT,
    *("--set", "model_args.embedding_dim=256"),
    *("--set", "model_args.latent_dim=512"),
    *("--set", "model_args.dropout=0.3"),
    *("--learning-rate", "1e-3"),
    *("--epochs", "12"),
]
WORD_LEVEL = {
    "attention_seq2seq": _LSTM,
    "seq2seq": _LSTM,
    "transformer_seq2seq": [
        *_TEXT,
        *("--batch-size", "128"),
        *("--epochs", "15"),
        *("--learning-rate", "1e-3"),
        *("--warmup-steps", "800"),
        *("--set", "model_args.num_layers=3"),
        *("--set", "model_args.hidden_dim=256"),
        *("--set", "model_args.intermediate_dim=512"),
    ],
}
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


def add_arguments(parser):
    parser.add_argument(
        "--runs-dir",
        default=None,
        help="keep the runs here; runs that finished in an earlier call are reused with their "
        "recorded time and memory",
    )


def run(args):
    base = getattr(args, "runs_dir", None) or tempfile.mkdtemp(prefix="kzoo-bench-translation-")
    os.makedirs(base, exist_ok=True)
    data = [] if args.quick else multi30k(args.data_dir)
    rows, notes = [], []
    for name in args.only or MODELS:
        options = QUICK if args.quick else WORD_LEVEL[name]
        run_dir = os.path.join(base, name)
        arguments = [*data, *options, "--output-dir", run_dir, "--no-export"]
        log = os.path.join(base, f"{name}.log")
        code, wall, peak, reused = run_or_reuse(f"recipes/{name}.py", arguments, log, run_dir)
        if reused:
            notes.append(f"`{name}`: the finished run in {run_dir} was reused.")
        if code != 0:
            rows.append([name, "failed", "", "", "", "", "", f"{wall / 60:.1f}", "", f"{peak:.0f}"])
            with open(log, encoding="utf-8") as f:
                notes.append(f"`{name}` failed:\n\n```\n{f.read()[-3000:]}\n```")
            continue
        with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as f:
            metrics = json.load(f)
        test = metrics["test"]
        beam_bleu = ""
        if not args.quick:
            try:
                beam_bleu = round(_beam_bleu(run_dir, args.data_dir), 2)
            except Exception as error:  # keep the greedy figures of a long run whatever happens
                beam_bleu = "failed"
                notes.append(f"`{name}`: beam search decoding failed: {error!r}")
        epochs = _history_epochs(run_dir)
        cpu_hours = wall / 3600 * (os.cpu_count() or 1)
        rows.append(
            [
                name,
                round(test["bleu"], 2),
                beam_bleu,
                round(test["rougeL"], 2),
                round(test["exact_match"], 4),
                epochs,
                _seconds_per_epoch(run_dir),
                f"{wall / 60:.1f}",
                round(test["bleu"] / cpu_hours, 1) if cpu_hours == cpu_hours else "",
                round(peak) if peak == peak else "",
            ]
        )
        notes.append(
            f"`{name}` test samples:\n\n```\n" + "\n".join(test.get("examples", [])) + "\n```"
        )
    if not args.quick:
        for row in rows:
            if row[0] in TARGETS and row[1] != "failed":
                greedy, beam = TARGETS[row[0]]
                reached = f"{row[1]:.2f} BLEU greedy ({row[1] - greedy:+.2f} against {greedy})"
                if beam is not None and isinstance(row[2], float):
                    reached += (
                        f", {row[2]:.2f} with beam search ({row[2] - beam:+.2f} against {beam})"
                    )
                notes.insert(
                    0,
                    f"`{row[0]}`: {reached}, in a {row[7]} min run (data, training and the greedy "
                    f"test decoding together; budget {TRAINING_BUDGET_MIN} min of training).",
                )
    return Report(
        columns=[
            "model",
            "test BLEU (greedy)",
            f"test BLEU (beam {BEAMS})",
            "test ROUGE-L",
            "exact match",
            "epochs",
            "s / epoch",
            "run min (training + evaluation)",
            "greedy BLEU per CPU-hour",
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
            "recipe options": "; ".join(
                f"{name}: {' '.join(QUICK if args.quick else WORD_LEVEL[name])}"
                for name in args.only or MODELS
            ),
            "metric": f"sacrebleu corpus BLEU ({_bleu_signature()}), greedy decoding",
            "seed": "0 (recipe default)",
        },
    )


def _beam_bleu(run_dir, data_dir):
    """Corpus BLEU of the trained run's beam-search translations of test_2016."""
    import sacrebleu

    import kzoo
    from kzoo.data import parallel_text

    folder = os.path.join(data_dir, "translation")
    sources, references = parallel_text.read_parallel(
        *(os.path.join(folder, f"multi30k.test_2016_flickr.{lang}.gz") for lang in ("de", "en"))
    )
    translations = []
    for begin in range(0, len(sources), 100):
        translations += kzoo.generate(
            run_dir,
            sources[begin : begin + 100],
            max_new_tokens=MAX_DECODE_LENGTH,
            sampler="beam",
            num_beams=BEAMS,
        )
    return sacrebleu.corpus_bleu(translations, [list(references)]).score


def _bleu_signature():
    import sacrebleu

    bleu = sacrebleu.BLEU()
    bleu.corpus_score(["a"], [["a"]])  # the signature names the reference count once used
    return str(bleu.get_signature())


def _seconds_per_epoch(run_dir):
    """Median seconds of a run's training epochs (validation included), from history.csv."""
    import csv
    import statistics

    with open(os.path.join(run_dir, "history.csv"), newline="", encoding="utf-8") as f:
        times = [
            float(row["epoch_seconds"]) for row in csv.DictReader(f) if row.get("epoch_seconds")
        ]
    return round(statistics.median(times), 1) if times else ""


def _history_epochs(run_dir):
    with open(os.path.join(run_dir, "history.csv"), encoding="utf-8") as f:
        return max(0, sum(1 for _ in f) - 1)
