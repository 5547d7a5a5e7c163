"""Reading tagged sentences from CoNLL-U and CoNLL/IOB2 files, and every malformed line named
by file and line."""

import gzip

import pytest

from kzoo.data import DataFileError
from kzoo.data.conll_files import UPOS_TAGS, is_iob2, read_tagged_file

CONLLU = """# newdoc id = doc1
# sent_id = 1
# text = I don't like it.
1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tlike\tlike\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tit\tit\tPRON\tPRP\t_\t_\t_\t4:obj\t_
5\tit\tit\tPRON\tPRP\t_\t4\tobj\t_\tSpaceAfter=No
6\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tHello\thello\tINTJ\tUH\t_\t0\troot\t_\t_
"""

# Universal NER's layout: id, word, tag, two more columns; comments before each sentence.
UNER = """# sent_id = a-1
# text = Anna went to New York
1\tAnna\tB-PER\t-\t-
2\twent\tO\t-\t-
3\tto\tO\t-\t-
4\tNew\tB-LOC\t-\tx
5\tYork\tI-LOC\t-\tx

# sent_id = a-2
# text = so # what
1\tso\tO\t-\t-
2\t#\tO\t-\t-
3\twhat\tO\t-\t-
"""

# CoNLL-2003's layout: word, POS, chunk, entity tag, separated by spaces.
CONLL2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def _write(tmp_path, name, text, compress=False):
    path = tmp_path / name
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def test_conllu_reads_syntactic_words_and_upos(tmp_path):
    path = _write(tmp_path, "ewt.conllu.gz", CONLLU, compress=True)
    words, tags, scheme = read_tagged_file(path)
    # Comments, the multi-word token "don't" (2-3) and the empty node 4.1 are skipped.
    assert words == [["I", "do", "n't", "like", "it", "."], ["Hello"]]
    assert tags == [["PRON", "AUX", "PART", "VERB", "PRON", "PUNCT"], ["INTJ"]]
    assert scheme == "tags"
    assert read_tagged_file(path, tag_column=5).tags[0] == ["PRP", "VBP", "RB", "VB", "PRP", "."]


def test_universal_ner_columns_with_comments_and_a_hash_token(tmp_path):
    path = _write(tmp_path, "uner.iob2", UNER)
    words, tags, scheme = read_tagged_file(path, word_column=2, tag_column=3)
    assert scheme == "iob2"
    assert words == [["Anna", "went", "to", "New", "York"], ["so", "#", "what"]]
    assert tags == [["B-PER", "O", "O", "B-LOC", "I-LOC"], ["O", "O", "O"]]


def test_conll2003_spaces_docstart_and_the_last_column(tmp_path):
    words, tags, scheme = read_tagged_file(_write(tmp_path, "train.txt", CONLL2003))
    assert words == [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]]
    assert tags == [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]]
    assert scheme == "iob2"
    # The POS column read as a plain tag set.
    assert read_tagged_file(_write(tmp_path, "t.txt", CONLL2003), tag_column=2).scheme == "tags"


def test_declared_entity_types_and_tags_pass(tmp_path):
    path = _write(tmp_path, "uner.iob2", UNER)
    assert len(read_tagged_file(path, word_column=2, tag_column=3, tags={"PER", "LOC"}).words) == 2
    conllu = _write(tmp_path, "a.conllu", CONLLU)
    assert read_tagged_file(conllu, tags=UPOS_TAGS).tags[1] == ["INTJ"]


def test_is_iob2():
    assert is_iob2(["O", "B-PER", "I-PER", "B-MISC"])
    assert not is_iob2(["O", "PER"])
    assert not is_iob2(["NOUN"])


# === Malformed lines: each error names the file and the line ===


def test_conllu_line_with_wrong_column_count(tmp_path):
    path = _write(tmp_path, "bad.conllu", CONLLU.replace("4\tlike\tlike\tVERB\tVB\t_\t0", "4 like"))
    with pytest.raises(
        DataFileError, match=r"bad\.conllu line 8 has 4 tab-separated columns\. Expected 10"
    ):
        read_tagged_file(path)


def test_column_file_line_with_another_column_count(tmp_path):
    path = _write(tmp_path, "bad.iob2", UNER.replace("3\tto\tO\t-\t-", "3\tto\tO"))
    with pytest.raises(DataFileError, match=r"bad\.iob2 line 5 has 3 columns\. Expected 5, as"):
        read_tagged_file(path, word_column=2, tag_column=3)


def test_column_file_with_too_few_columns_for_the_tag_column(tmp_path):
    path = _write(tmp_path, "short.iob2", "Anna B-PER\nwent O\n")
    with pytest.raises(DataFileError, match=r"short\.iob2 line 1 has 2 columns\. Expected at le"):
        read_tagged_file(path, tag_column=3)


def test_i_tag_that_follows_nothing(tmp_path):
    path = _write(tmp_path, "iob1.txt", "Anna I-PER\n\nin O\nNew I-LOC\nYork I-LOC\n")
    with pytest.raises(DataFileError, match=r"iob1\.txt line 1 has the tag I-PER after O: it fol"):
        read_tagged_file(path)
    # Nor may it continue an entity of another type.
    mixed = _write(tmp_path, "mixed.txt", "New B-LOC\nYork I-ORG\n")
    with pytest.raises(DataFileError, match=r"mixed\.txt line 2 has the tag I-ORG after B-LOC"):
        read_tagged_file(mixed)


def test_tag_that_is_not_iob2(tmp_path):
    path = _write(tmp_path, "plain.txt", "Anna B-PER\nwent VERB\n")
    with pytest.raises(DataFileError, match=r"plain\.txt line 2 has the unknown tag 'VERB'\. Ex"):
        read_tagged_file(path, scheme="iob2")


def test_entity_type_not_declared(tmp_path):
    path = _write(tmp_path, "ner.txt", "EU B-ORG\nsays O\n\nBonn B-LOC\n")
    with pytest.raises(DataFileError, match=r"ner\.txt line 4 has the unknown tag 'B-LOC'\. Ex"):
        read_tagged_file(path, tags={"ORG", "PER"})


def test_unknown_upos_tag(tmp_path):
    path = _write(tmp_path, "pos.conllu", CONLLU.replace("INTJ", "INTERJ"))
    with pytest.raises(DataFileError, match=r"pos\.conllu line 14 has the unknown tag 'INTERJ'"):
        read_tagged_file(path)


def test_bad_arguments(tmp_path):
    path = _write(tmp_path, "a.conllu", CONLLU)
    with pytest.raises(ValueError, match=r"word_column. Expected 2 \(FORM\) for a CoNLL-U file"):
        read_tagged_file(path, word_column=3)
    with pytest.raises(ValueError, match=r"tag_column. Expected a column of CoNLL-U, 1 to 10"):
        read_tagged_file(path, tag_column=11)
    with pytest.raises(ValueError, match=r"argument scheme. Expected one of \{'auto', 'iob2'"):
        read_tagged_file(path, scheme="bio")
    with pytest.raises(DataFileError, match=r"Cannot read .*missing\.conllu: no such file"):
        read_tagged_file(tmp_path / "missing.conllu")
