import gzip
import warnings

import numpy as np
import pytest
import tensorflow as tf

from kzoo.data import (
    BadLinesWarning,
    DataFileError,
    load_classification_files,
    read_delimited,
    read_images,
    read_label_files,
    read_labeled_lines,
    read_lines,
    read_parallel,
    read_parallel_tsv,
    read_text,
)


def write(path, data):
    """Writes bytes (or UTF-8 text) to `path`, gzip'd when the name ends in .gz."""
    data = data.encode("utf-8") if isinstance(data, str) else data
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as file:
        file.write(data)
    return str(path)


# === Lines and text ===


def test_read_lines_strips_line_ends_and_keeps_blank_lines(tmp_path):
    path = write(tmp_path / "a.txt", b"one\r\ntwo \n\nlast without newline")
    assert read_lines(path) == ["one", "two ", "", "last without newline"]
    assert read_lines(write(tmp_path / "b.txt", b"x\ny\n")) == ["x", "y"]
    assert read_lines(write(tmp_path / "empty.txt", b"")) == []


def test_gz_files_read_like_plain_ones(tmp_path):
    text = "Ein Hund läuft.\nZwei Katzen.\n"
    plain, packed = write(tmp_path / "s.de", text), write(tmp_path / "s.de.gz", text)
    assert read_lines(packed) == read_lines(plain) == ["Ein Hund läuft.", "Zwei Katzen."]
    assert read_text(packed) == text


def test_gzip_data_is_recognised_without_a_gz_name(tmp_path):
    path = tmp_path / "renamed.txt"
    path.write_bytes(gzip.compress(b"hidden\n"))
    assert read_lines(path) == ["hidden"]


def test_undecodable_byte_names_file_line_column_and_the_fix(tmp_path):
    path = write(tmp_path / "rt-polarity.pos", b"fine\nalso fine\ncaf\xe9 culture\n")
    with pytest.raises(DataFileError) as info:
        read_lines(path)
    message = str(info.value)
    assert message.startswith(f"Cannot decode {path} line 3 as utf-8: byte 0xe9 at column 4.")
    assert "--encoding latin-1" in message
    assert isinstance(info.value, ValueError)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert read_lines(path, encoding="latin-1")[2] == "café culture"


def test_line_number_counts_blank_lines_and_gz_content(tmp_path):
    path = write(tmp_path / "x.txt.gz", b"a\n\n\nb \xff\n")
    with pytest.raises(DataFileError, match=r"x\.txt\.gz line 4 as utf-8: byte 0xff at column 3"):
        read_text(path)


def test_latin1_byte_0x85_does_not_split_a_line(tmp_path):
    # In latin-1, 0x85 decodes to U+0085, which str.splitlines() would treat as a line break.
    path = write(tmp_path / "m.txt", b"wait\x85 what\nnext\n")
    assert read_lines(path, encoding="latin-1") == ["wait\x85 what", "next"]


def test_read_text_reads_crlf_and_cr_as_newlines(tmp_path):
    assert read_text(write(tmp_path / "t.txt", b"a\r\nb\rc\n")) == "a\nb\nc\n"


def test_byte_order_mark_is_dropped(tmp_path):
    path = write(tmp_path / "bom.csv", b"\xef\xbb\xbftext,label\nhi,1\n")
    assert read_delimited(path, ["text", "label"]) == (["hi"], ["1"])


def test_missing_file_and_directory_are_data_file_errors(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(DataFileError, match=f"Cannot read {missing}: no such file"):
        read_lines(missing)
    with pytest.raises(DataFileError, match="is a directory"):
        read_text(tmp_path)


def test_damaged_gzip_is_a_data_file_error(tmp_path):
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataFileError, match=r"Cannot decompress .*bad\.gz as gzip"):
        read_lines(tmp_path / "bad.gz")
    truncated = tmp_path / "cut.gz"
    truncated.write_bytes(gzip.compress(b"some text\n" * 100)[:30])
    with pytest.raises(DataFileError, match="Cannot decompress"):
        read_lines(truncated)


def test_unknown_encoding_is_rejected_in_keras_wording(tmp_path):
    path = write(tmp_path / "a.txt", "x\n")
    with pytest.raises(ValueError, match="Invalid value for argument encoding.*encoding='klingon'"):
        read_lines(path, encoding="klingon")


def test_utf16_files_decode_without_line_splitting_trouble(tmp_path):
    path = write(tmp_path / "u16.txt", "α\nβ\n".encode("utf-16"))
    assert read_lines(path, encoding="utf-16") == ["α", "β"]


# === Labeled lines ===


def test_read_labeled_lines_sst_and_trec_formats(tmp_path):
    sst = write(tmp_path / "stsa.binary.train", "1 a fine film\n0 dull , flat\n\n  \n")
    assert read_labeled_lines(sst) == (["a fine film", "dull , flat"], ["1", "0"])
    trec = write(tmp_path / "TREC.train", "DESC:manner How did it develop ?\nNUM:date When ?\n")
    assert read_labeled_lines(trec) == (
        ["How did it develop ?", "When ?"],
        ["DESC:manner", "NUM:date"],
    )


def test_label_without_text_names_the_line(tmp_path):
    path = write(tmp_path / "sst.txt", "1 good\n\n0\n1 fine\n")
    with pytest.raises(DataFileError, match=r"sst\.txt line 3 has a label \('0'\) but no text"):
        read_labeled_lines(path)


# === Delimited ===


def test_read_delimited_csv_with_quotes_and_embedded_newline(tmp_path):
    path = write(tmp_path / "r.csv", 'id,text,label\n1,"great, really",pos\n\n2,"two\nlines",neg\n')
    assert read_delimited(path, ["label", "text"]) == (
        ["pos", "neg"],
        ["great, really", "two\nlines"],
    )
    assert read_delimited(path, "id") == (["1", "2"],)


def test_read_delimited_tsv_takes_quotes_literally(tmp_path):
    path = write(tmp_path / "sst.tsv.gz", 'sentence\tlabel\n"quoted start\t1\nit \'s "ok\t0\n')
    assert read_delimited(path, ["sentence", "label"]) == (
        ['"quoted start', "it 's \"ok"],
        ["1", "0"],
    )


def test_explicit_delimiter(tmp_path):
    path = write(tmp_path / "r.txt", "text;label\nhi;1\n")
    assert read_delimited(path, ["text"], delimiter=";") == (["hi"],)


def test_unknown_column_lists_the_columns_found(tmp_path):
    path = write(tmp_path / "r.csv", "sentence,label\nhi,1\n")
    with pytest.raises(DataFileError, match=r"has no column 'text'\. Columns found: \['sentence',"):
        read_delimited(path, ["text", "label"])


def test_row_with_wrong_field_count_names_the_line(tmp_path):
    path = write(tmp_path / "r.csv", "text,label\nhi,1\nno label\n")
    with pytest.raises(DataFileError, match=r"r\.csv line 3 has 1 fields, but the header has 2"):
        read_delimited(path, ["text", "label"])


def test_empty_csv_is_a_data_file_error(tmp_path):
    with pytest.raises(DataFileError, match="is empty"):
        read_delimited(write(tmp_path / "e.csv", ""), ["text"])


# === One file per class ===


def test_read_label_files_labels_from_suffixes(tmp_path):
    pos = write(tmp_path / "rt-polarity.pos", "a joy \n\nfun\n")
    neg = write(tmp_path / "rt-polarity.neg.gz", "a chore\n")
    assert read_label_files([pos, neg]) == (["a joy", "fun", "a chore"], ["pos", "pos", "neg"])


def test_read_label_files_falls_back_to_stems_and_names(tmp_path):
    pos, neg = write(tmp_path / "pos.txt", "yes\n"), write(tmp_path / "neg.txt", "no\n")
    assert read_label_files([pos, neg])[1] == ["pos", "neg"]
    spam, ham = write(tmp_path / "spam", "buy\n"), write(tmp_path / "ham", "hi\n")
    assert read_label_files([spam, ham])[1] == ["spam", "ham"]


def test_read_label_files_explicit_labels(tmp_path):
    a, b = write(tmp_path / "a.txt", "x\n"), write(tmp_path / "b.txt", "y\n")
    assert read_label_files([a, b], labels=["good", "bad"]) == (["x", "y"], ["good", "bad"])
    with pytest.raises(ValueError, match="Expected a list of 2 labels"):
        read_label_files([a, b], labels=["good"])


def test_read_label_files_needs_labels_when_names_do_not_differ(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    a, b = write(tmp_path / "one" / "x.txt", "1\n"), write(tmp_path / "two" / "x.txt", "2\n")
    with pytest.raises(ValueError, match="Invalid value for argument labels"):
        read_label_files([a, b])


# === Parallel text ===


def test_read_parallel_aligns_lines_and_ignores_trailing_blank_lines(tmp_path):
    de = write(tmp_path / "train.de.gz", "Ein Hund.\n\nZwei Katzen.\n\n\n")
    en = write(tmp_path / "train.en.gz", "A dog.\n\nTwo cats.\n")
    assert read_parallel(de, en) == (["Ein Hund.", "", "Zwei Katzen."], ["A dog.", "", "Two cats."])


def test_read_parallel_names_both_files_and_counts(tmp_path):
    de = write(tmp_path / "a.de", "1\n2\n3\n")
    en = write(tmp_path / "a.en", "1\n2\n")
    with pytest.raises(DataFileError, match=rf"{de} has 3 lines and {en} has 2"):
        read_parallel(de, en)


def test_read_parallel_tsv_ignores_extra_columns(tmp_path):
    path = write(tmp_path / "fra.txt", "Go.\tVa !\tCC-BY 2.0 (France)\n\nHi.\tSalut !\n")
    assert read_parallel_tsv(path) == (["Go.", "Hi."], ["Va !", "Salut !"])
    bad = write(tmp_path / "bad.txt", "Go.\tVa !\nno tab here\n")
    with pytest.raises(DataFileError, match=r"bad\.txt line 2 has no tab"):
        read_parallel_tsv(bad)


# === Images ===


def test_npz_array_choice_and_uint8_scaling(tmp_path):
    pixels = np.array([[[0, 51], [102, 255]]], dtype="uint8")
    np.savez(tmp_path / "a.npz", x=np.zeros((1, 2, 2)), images=pixels)
    images = read_images(tmp_path / "a.npz")
    assert images.dtype == np.float32 and images.shape == (1, 2, 2, 1)
    np.testing.assert_allclose(images[0, :, :, 0], [[0.0, 0.2], [0.4, 1.0]], atol=1e-7)
    np.savez(tmp_path / "b.npz", y_train=np.arange(2), x_train=np.ones((2, 3, 3, 3), "uint8"))
    assert read_images(tmp_path / "b.npz").shape == (2, 3, 3, 3)
    np.savez(tmp_path / "c.npz", digits=np.full((4, 5, 5), 0.5, "float32"))
    assert read_images(tmp_path / "c.npz").shape == (4, 5, 5, 1)
    np.save(tmp_path / "d.npy", np.full((2, 4, 4, 1), 255, "uint8"))
    assert float(read_images(tmp_path / "d.npy").min()) == 1.0


def test_npz_errors_name_the_file(tmp_path):
    np.savez(tmp_path / "two.npz", a=np.zeros((1, 2, 2)), b=np.zeros((1, 2, 2)))
    with pytest.raises(DataFileError, match=r"two\.npz has no array named 'images'.*\['a', 'b'\]"):
        read_images(tmp_path / "two.npz")
    np.savez(tmp_path / "range.npz", images=np.full((1, 2, 2), 3.0))
    with pytest.raises(DataFileError, match=r"holds floats in \[3\.0, 3\.0\]"):
        read_images(tmp_path / "range.npz")
    with pytest.raises(DataFileError, match="no such file"):
        read_images(tmp_path / "missing.npz")
    write(tmp_path / "text.npz", "not numpy")
    with pytest.raises(DataFileError, match=r"Cannot read .*text\.npz as a NumPy"):
        read_images(tmp_path / "text.npz")


def _png(pixels):
    return tf.io.encode_png(np.asarray(pixels, dtype="uint8")).numpy()


def test_image_folder_in_name_order(tmp_path):
    write(tmp_path / "b.png", _png(np.full((2, 3, 1), 255)))
    write(tmp_path / "a.png", _png(np.zeros((2, 3, 1))))
    write(tmp_path / "notes.txt", "ignored")
    images = read_images(tmp_path)
    assert images.shape == (2, 2, 3, 1) and images.dtype == np.float32
    assert images[0].max() == 0.0 and images[1].min() == 1.0


def test_image_folder_shape_mismatch_names_the_odd_file(tmp_path):
    write(tmp_path / "a.png", _png(np.zeros((4, 4, 1))))
    write(tmp_path / "b.png", _png(np.zeros((4, 5, 1))))
    with pytest.raises(DataFileError, match=r"b\.png has shape \(4, 5, 1\), but a\.png"):
        read_images(tmp_path)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataFileError, match="contains no image files"):
        read_images(tmp_path)
    write(tmp_path / "broken.jpg", b"definitely not a jpeg")
    with pytest.raises(DataFileError, match=r"Cannot decode image .*broken\.jpg"):
        read_images(tmp_path)


# === Front door ===


def test_load_classification_files_picks_the_reader(tmp_path):
    pos, neg = write(tmp_path / "mr.pos", "good\n"), write(tmp_path / "mr.neg", "bad\n")
    assert load_classification_files([pos, neg]) == (["good", "bad"], ["pos", "neg"])
    csv_path = write(tmp_path / "r.csv", "label,text\n1,fine\n")
    assert load_classification_files(csv_path) == (["fine"], ["1"])
    tsv_path = write(tmp_path / "r.tsv", "sentence\ty\nok\t0\n")
    assert load_classification_files([tsv_path], text_column="sentence", label_column="y") == (
        ["ok"],
        ["0"],
    )
    lines = write(tmp_path / "trec.txt", "HUM:ind Who ?\n")
    assert load_classification_files(lines) == (["Who ?"], ["HUM:ind"])


def test_load_classification_files_passes_the_encoding(tmp_path):
    path = write(tmp_path / "trec.txt", b"LOC:city Where is M\xe1laga ?\n")
    with pytest.raises(DataFileError, match="line 1 as utf-8"):
        load_classification_files(path)
    assert load_classification_files(path, encoding="latin-1") == (
        ["Where is Málaga ?"],
        ["LOC:city"],
    )
    with pytest.raises(ValueError, match="Invalid value for argument paths"):
        load_classification_files([])


# === Bad lines, rare labels and declared labels ===


def _two_classes(count, extra=()):
    """`count` lines of two classes, with `extra` {line number: line} put in at those lines."""
    lines = [f"{('neg', 'pos')[i % 2]} sentence number {i}" for i in range(count)]
    for number, line in sorted(dict(extra).items()):
        lines.insert(number - 1, line)
    return "\n".join(lines) + "\n"


def test_lines_without_their_label_are_refused_as_rare_labels(tmp_path):
    # The bug: two unlabeled lines made classes 'if' and 'jonathan' of a 2-class file.
    unlabeled = {101: "if only it were shorter", 202: "jonathan pryce is superb"}
    path = write(tmp_path / "train.txt", _two_classes(300, unlabeled))
    assert sorted(set(load_classification_files(path)[1])) == ["if", "jonathan", "neg", "pos"]
    with pytest.raises(
        DataFileError,
        match=r"train\.txt has the label 'if' only on line 101 of its 302 lines: it looks like a "
        r"line whose label is missing, its first word read as the label\. Fix the line, or "
        r"declare the classes with --labels \(labels= in Python\) if 'if' is a real one\. "
        r"Other labels as rare: 'jonathan' \(line 202\)\.$",
    ):
        load_classification_files(path, check_rare_labels=True)
    # Declared labels make them bad lines, which can be left out.
    result = load_classification_files(path, labels=["neg", "pos"], on_bad_lines="skip")
    assert result.lines_left_out == 2 and sorted(set(result[1])) == ["neg", "pos"]


def test_rare_label_rule_counts_at_most_two_on_less_than_half_a_percent(tmp_path):
    def refused(count, extra):
        path = write(tmp_path / "train.txt", _two_classes(count, extra))
        try:
            load_classification_files(path, check_rare_labels=True)
        except DataFileError:
            return True
        return False

    once, twice = {1: "odd one"}, {1: "odd one", 2: "odd two"}
    assert not refused(199, once)  # 1 of 200 lines: 0.5 %, may be a small real class
    assert refused(200, once)  # 1 of 201
    assert not refused(398, twice)  # 2 of 400
    assert refused(399, twice)  # 2 of 401
    thrice = {1: "odd one", 2: "odd two", 3: "odd three"}
    assert not refused(3000, thrice)  # seen three times: a class


def test_rare_label_seen_twice_names_both_lines(tmp_path):
    path = write(tmp_path / "train.txt", _two_classes(500, {7: "the end", 9: "the start"}))
    with pytest.raises(
        DataFileError, match=r"has the label 'the' only on lines 7 and 9 of its 502"
    ):
        load_classification_files(path, check_rare_labels=True)


def test_many_rare_labels_suggest_a_file_without_labels(tmp_path):
    sentences = [f"word{i} and more words" for i in range(60)] + ["a good one"] * 240
    path = write(tmp_path / "mr.pos", "\n".join(sentences) + "\n")
    with pytest.raises(
        DataFileError,
        match=r"'word5' \(line 6\) and 54 more\. So many rare labels suggest a file without "
        r"labels: for one file per label, give one --train-file per label\.$",
    ):
        load_classification_files(path, check_rare_labels=True)


def test_bad_line_error_names_the_line_the_count_and_the_option(tmp_path):
    path = write(tmp_path / "sst.txt", "1 good\n\n0\n1 fine\n1 \n")
    with pytest.raises(
        DataFileError,
        match=r"sst\.txt line 3 has a label \('0'\) but no text \(2 bad lines in all\)\. To "
        r"leave such lines out, pass --on-bad-lines warn or --on-bad-lines skip",
    ):
        load_classification_files(path)


def test_bad_lines_warn_once_per_file_or_skip_silently(tmp_path):
    path = write(tmp_path / "sst.txt", "1 good\n\n0\n1 fine\n1 \n")
    with pytest.warns(
        BadLinesWarning,
        match=r"sst\.txt: left out 2 bad lines, on lines 3, 5; the first has a label \('0'\) "
        r"but no text\.$",
    ) as caught:
        result = load_classification_files(path, on_bad_lines="warn")
    assert len(caught) == 1
    assert result == (["good", "fine"], ["1", "1"]) and result.lines_left_out == 2
    one = write(tmp_path / "one.txt", "1 good\n0\n")
    with pytest.warns(BadLinesWarning, match=r"one\.txt: left out 1 bad line: line 2 has"):
        load_classification_files(one, on_bad_lines="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = load_classification_files(path, on_bad_lines="skip")
    assert result == (["good", "fine"], ["1", "1"]) and result.lines_left_out == 2


@pytest.mark.parametrize(
    "row, message",
    [
        ("no label", r"r\.csv line 3 has 1 fields, but the header has 2: \['text', 'label'\]\."),
        (" ,0", r"r\.csv line 3 has an empty 'text' field \(no text\)\."),
        ("dull,", r"r\.csv line 3 has an empty 'label' field \(no label\)\."),
    ],
)
def test_csv_rows_missing_fields_text_or_label_are_bad_lines(row, message, tmp_path):
    path = write(tmp_path / "r.csv", f"text,label\nfine,1\n{row}\nok,0\n")
    with pytest.raises(DataFileError, match=message):
        load_classification_files(path)
    result = load_classification_files(path, on_bad_lines="skip")
    assert result == (["fine", "ok"], ["1", "0"]) and result.lines_left_out == 1


def test_a_csv_row_is_numbered_by_its_first_line(tmp_path):
    path = write(tmp_path / "q.csv", 'text,label\n"two\nlines",1\nshort\n')
    with pytest.raises(DataFileError, match=r"q\.csv line 4 has 1 fields"):
        load_classification_files(path)


def test_declared_labels_make_other_labels_bad_lines(tmp_path):
    path = write(tmp_path / "trec.txt", "LOC:city Where ?\nHUM:ind Who ?\nNUM:date When ?\n")
    with pytest.raises(
        DataFileError,
        match=r"trec\.txt line 3 has the label 'NUM:date', not one of the declared labels "
        r"\['LOC:city', 'HUM:ind'\]\. To leave such lines out",
    ):
        load_classification_files(path, labels=["LOC:city", "HUM:ind"])
    csv_path = write(tmp_path / "r.csv", "text,label\nfine,pos\nso so,neutral\n")
    result = load_classification_files(csv_path, labels=["neg", "pos"], on_bad_lines="skip")
    assert result == (["fine"], ["pos"]) and result.lines_left_out == 1
    pos, neg = write(tmp_path / "mr.pos", "good\n"), write(tmp_path / "mr.neg", "bad\n")
    assert load_classification_files([pos, neg], labels=["neg", "pos"])[1] == ["pos", "neg"]
    with pytest.raises(
        DataFileError,
        match=r"mr\.neg holds the class 'neg' \(from its name\), not one of the declared labels "
        r"\['negative', 'pos'\]",
    ):
        load_classification_files([pos, neg], labels=["negative", "pos"])


def test_empty_classification_files_have_0_examples(tmp_path):
    blank = write(tmp_path / "blank.txt", "\n  \n")
    with pytest.raises(DataFileError, match=r"blank\.txt has 0 examples: no non-blank line\.$"):
        load_classification_files(blank)
    header = write(tmp_path / "header.csv", "text,label\n")
    with pytest.raises(DataFileError, match=r"header\.csv has 0 examples: no row below its head"):
        load_classification_files(header)
    pos, neg = write(tmp_path / "mr.pos", "good\n"), write(tmp_path / "mr.neg", "")
    with pytest.raises(DataFileError, match=r"mr\.neg has 0 examples: no non-blank line\.$"):
        load_classification_files([pos, neg])
    bad = write(tmp_path / "bad.txt", "1\n0\n")
    with pytest.raises(DataFileError, match=r"bad\.txt has 0 examples: all 2 of its lines are"):
        load_classification_files(bad, on_bad_lines="skip")


def test_labels_and_on_bad_lines_arguments_are_checked(tmp_path):
    path = write(tmp_path / "sst.txt", "1 good\n")
    with pytest.raises(ValueError, match=r"Invalid value for argument on_bad_lines\. Expected "):
        load_classification_files(path, on_bad_lines="ignore")
    for labels in ("pos", ["pos"], ["pos", "pos"], ["pos", ""]):
        with pytest.raises(ValueError, match=r"Invalid value for argument labels\. Expected a "):
            load_classification_files(path, labels=labels)
