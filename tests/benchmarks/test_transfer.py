"""The transfer benchmark's pieces: its slices of the text, its budget and what it reads
from a run folder."""

from benchmarks.transfer import best_valid_loss, epochs_for, slices, unknown_counts


def test_slices_keep_the_start_of_the_recipes_training_split():
    text = "".join(chr(ord("a") + i % 26) for i in range(200))
    kept, valid = slices(text, fractions=(0.05, 0.2))
    assert valid == text[180:]  # the last 10 %, as the recipes validate
    assert kept == {0.05: text[:9], 0.2: text[:36]}


def test_the_budget_in_epochs():
    assert epochs_for(50_000, budget=4_000_000) == 80
    assert epochs_for(210_000, budget=4_000_000) == 19
    assert epochs_for(9_000_000, budget=4_000_000) == 1


def test_what_a_run_folder_says(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,loss,val_loss\n0,3.0,2.5\n1,2.0,2.25\n2,1.5,2.4\n")
    (tmp_path / "run.log").write_text(
        "[kzoo] data: train: 820 characters, 820 tokens, 20 [UNK]\n"
        "[kzoo] data: valid: 300 characters, 300 tokens, 7 [UNK]\n"
        "[kzoo] data: vocabulary: 60 tokens (character), the preset's (p)\n"
    )
    assert best_valid_loss(tmp_path) == (2.25, 3)
    assert unknown_counts(tmp_path) == {"train": 20, "valid": 7}
