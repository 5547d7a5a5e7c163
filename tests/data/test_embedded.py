import collections
import datetime
import re

import numpy as np
import pytest

from kzoo.data import (
    date_pairs,
    digit_images,
    embedded,
    prose_text,
    question_corpus,
    sentiment_corpus,
)
from kzoo.data.embedded import dates, sentiment

# === Sentiment ===

NEGATIONS = {"not", "never", "hardly", "isn't", "wasn't", "doesn't", "didn't"}
POSITIVE = {
    *sentiment._POSITIVE_ADJECTIVES,
    *(form for forms in sentiment._POSITIVE_VERBS + sentiment._POSITIVE_ACTIONS for form in forms),
}
NEGATIVE = {
    *sentiment._NEGATIVE_ADJECTIVES,
    *(form for forms in sentiment._NEGATIVE_VERBS + sentiment._NEGATIVE_ACTIONS for form in forms),
}


def clause_sentiment(clause):
    """An independent reading of one clause: its sentiment word, flipped by a negation."""
    words = clause.replace(",", " ").split()
    polar = [w for w in words if w in POSITIVE or w in NEGATIVE]
    assert len(polar) == 1, f"expected one sentiment word in {clause!r}"
    return int((polar[0] in POSITIVE) != any(w in NEGATIONS for w in words))


def sentence_sentiment(text):
    if ", but " in text:
        return clause_sentiment(text.split(", but ")[1])
    if "although " in text:
        return clause_sentiment(text.split("although ", 1)[1].split(", ", 1)[1])
    if " even though " in text:
        return clause_sentiment(text.split(" even though ")[0])
    sentiments = {clause_sentiment(clause) for clause in text.split(" and ")}
    assert len(sentiments) == 1, f"clauses joined by 'and' disagree in {text!r}"
    return sentiments.pop()


def test_sentiment_labels_follow_negation_and_contrast():
    texts, labels, class_names = sentiment_corpus(num_examples=3000, seed=1)
    assert class_names == ["negative", "positive"]
    assert [sentence_sentiment(text) for text in texts] == labels


def test_sentiment_hand_checked_readings():
    assert clause_sentiment("the plot is hardly boring") == 1
    assert sentence_sentiment("the acting is superb, but the plot drags") == 0
    assert sentence_sentiment("although i loved the cast, the ending doesn't work") == 0
    assert sentence_sentiment("the film never fails even though the pacing is very dull") == 1


def test_sentiment_is_balanced_varied_and_needs_word_order():
    texts, labels, _ = sentiment_corpus(seed=0)
    assert len(texts) == 8000 and labels.count(0) == labels.count(1) == 4000
    lengths = [len(text.split()) for text in texts]
    assert min(lengths) >= 4 and 20 <= max(lengths) <= 30
    assert len({n for n in lengths}) >= 15  # lengths vary, so bucketing matters
    vocabulary = {word for text in texts for word in text.replace(",", "").split()}
    assert 200 <= len(vocabulary) <= 500
    assert len(set(texts)) > 0.98 * len(texts)
    # The words that flip or decide sentiment occur in both classes about equally often.
    for word in ("not", "never", "but", "although", "good", "boring"):
        rate = np.mean([label for text, label in zip(texts, labels) if word in text.split()])
        assert 0.3 < rate < 0.7, (word, rate)


def test_sentiment_is_deterministic_for_a_seed():
    assert sentiment_corpus(50, seed=3) == sentiment_corpus(50, seed=3)
    assert sentiment_corpus(50, seed=3)[0] != sentiment_corpus(50, seed=4)[0]


def test_sentiment_rejects_bad_sizes():
    with pytest.raises(ValueError, match="Invalid value for argument num_examples"):
        sentiment_corpus(num_examples=0)


# === Questions ===


def test_questions_keep_trec_proportions_and_are_distinct():
    texts, labels, class_names = question_corpus(seed=0)
    assert class_names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    # 6000 × (86, 1162, 1250, 1223, 835, 896) / 5452, rounded by largest remainder.
    assert [labels.count(i) for i in range(6)] == [95, 1279, 1375, 1346, 919, 986]
    assert len(set(texts)) >= 5990
    assert all(text.endswith(" ?") and text[0].isupper() for text in texts)


def test_question_types_follow_the_question_words():
    texts, labels, class_names = question_corpus(num_examples=3000, seed=2)
    expected = {
        "Who ": "HUM",
        "Where ": "LOC",
        "When ": "NUM",
        "Why ": "DESC",
        "How many ": "NUM",
        "How does ": "DESC",
        "What is the capital of ": "LOC",
        "What is the full form of ": "ABBR",
        "In what year ": "NUM",
        "In what city ": "LOC",
    }
    seen = collections.Counter()
    for text, label in zip(texts, labels):
        for start, name in expected.items():
            if text.startswith(start):
                assert class_names[label] == name, text
                seen[start] += 1
    assert set(seen) == set(expected)


def test_question_leading_words_are_shared_between_classes():
    texts, labels, _ = question_corpus(seed=0)
    classes_by_first_word = collections.defaultdict(set)
    for text, label in zip(texts, labels):
        classes_by_first_word[text.split()[0]].add(label)
    assert classes_by_first_word["What"] == set(range(6))
    assert len(classes_by_first_word["How"]) >= 3
    assert len(classes_by_first_word["Which"]) >= 4


def test_questions_are_deterministic_for_a_seed():
    assert question_corpus(40, seed=5) == question_corpus(40, seed=5)
    assert question_corpus(40, seed=5)[0] != question_corpus(40, seed=6)[0]


# === Prose ===


def test_prose_text_is_long_clean_and_stable():
    text = prose_text()
    assert len(text) > 300_000
    assert text == prose_text()
    assert "assert" in text and 'The "if" statement' in text
    assert not re.search(r"^\*{3,}$|^={3,}$", text, flags=re.MULTILINE)  # no heading rules
    assert "’" not in text and "“" not in text and "\n\n\n" not in text
    assert len(set(text)) < 110


# === Dates ===

MONTHS = [m.lower() for m in dates._MONTHS]
WEEKDAYS = [w.lower() for w in dates._WEEKDAYS]


def test_date_pairs_targets_are_the_dates_the_sources_spell():
    sources, targets = date_pairs(num_examples=2000, seed=0)
    assert len(sources) == len(targets) == 2000
    for source, target in zip(sources, targets):
        date = datetime.date.fromisoformat(target)
        assert datetime.date(1900, 1, 1) <= date <= datetime.date(2099, 12, 31)
        text = source.lower()
        numbers = [int(n) for n in re.findall(r"\d+", text)]
        assert date.year in numbers, source
        assert date.day in numbers, source
        month_name = MONTHS[date.month - 1]
        assert month_name[:3] in text or f"{date.month:02d}" in text, source
        other_months = [m for m in MONTHS if m != month_name and m[:3] in text.split(" ")]
        assert not other_months, source
        words = re.findall(r"[a-z]+", text)
        for weekday in WEEKDAYS:  # a spelled weekday is the date's own
            if weekday in words or weekday[:3] in words:
                assert weekday == WEEKDAYS[date.weekday()], source


def test_date_pairs_hand_checked_formats():
    date = datetime.date(2026, 11, 21)
    written = {f(date, "November", "Nov", "Saturday", "Sat") for f in dates._DATE_FORMATS}
    assert {
        "21 November 2026",
        "Nov 21, 2026",
        "Saturday, November 21 2026",
        "the 21st of November, 2026",
        "21.11.2026",
        "2026/11/21",
        "21-NOV-2026",
    } <= written
    assert [dates._ordinal(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st",
    ]  # fmt: skip


def test_date_pairs_use_many_formats_and_cases():
    sources, _ = date_pairs(num_examples=3000, seed=0)
    shapes = {re.sub(r"[a-z]+", "a", re.sub(r"\d", "9", s.lower())) for s in sources}
    assert len(shapes) >= 10
    assert any(s.islower() for s in sources) and any(s.isupper() for s in sources)
    assert date_pairs(20, seed=1) == date_pairs(20, seed=1) != date_pairs(20, seed=2)


# === Digits ===


def test_digit_images_at_native_size_match_scikit_learn():
    from sklearn.datasets import load_digits

    images, labels = digit_images(size=8)
    digits = load_digits()
    assert images.shape == (1797, 8, 8, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images[..., 0], digits.images / 8.0 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(labels, digits.target)


def test_digit_images_resized_to_mnist_shape():
    images, labels = digit_images()
    assert images.shape == (1797, 28, 28, 1) and images.dtype == np.float32
    assert images.min() == -1.0 and images.max() <= 1.0
    assert labels.dtype == np.int32 and np.bincount(labels).tolist() == [
        178, 182, 177, 183, 181, 182, 181, 179, 174, 180,
    ]  # fmt: skip
    # Corners are background in every digit.
    assert np.all(images[:, 0, 0, 0] == -1.0)


# === News ===

# Headline words of the stories' own: everything else in a headline is copied from its article.
HEADLINE_WORDS = set(
    "beat draw and profit rises falls percent to hit with winds elected mayor of names chief "
    "executive crash closes near launches probe climbs drops dollars".split()
)


def test_news_headline_words_come_from_their_article():
    articles, headlines = embedded.news_headlines(num_examples=2000, seed=0)
    for article, headline in zip(articles, headlines):
        words = set(re.findall(r"[\w/-]+", article.lower()))
        copied = [w for w in headline.lower().split() if w not in HEADLINE_WORDS]
        assert copied and all(w in words for w in copied), (article, headline)


def test_news_headlines_name_the_winner_not_the_first_named():
    articles, headlines = embedded.news_headlines(num_examples=3000, seed=1)
    reversed_order = 0
    for article, headline in zip(articles, headlines):
        match = re.fullmatch(r"(\w+) beat (\w+) (\d)-(\d)", headline)
        if match:
            a, b, win, lose = match.groups()
            assert int(win) > int(lose)
            assert (
                f"The {a} beat the {b} {win}-{lose}" in article
                or f"The {b} were beaten {win}-{lose} by the {a}" in article
                or f"The {b} lost {win}-{lose} to the {a}" in article
            ), article
            reversed_order += article.index(b) < article.index(a)
        match = re.fullmatch(r"(\w+) elected mayor of (\w+)", headline)
        if match:  # the winner's surname, whoever the article names first
            assert re.search(rf"\w+ {match[1]}(, the \w+ candidate, won| took)", article)
    assert reversed_order > 100  # the loser often comes first


def test_news_headlines_lead_baseline_is_weak_and_kinds_are_mixed():
    from kzoo.tasks.translation import TranslationTask

    articles, headlines = embedded.news_headlines(num_examples=800, seed=0)
    leads = [" ".join(a.split()[:6]) for a in articles]
    assert TranslationTask.scores(leads, headlines)["rouge1"] < 25
    kinds = {re.sub(r"[A-Z][\w-]*|\d[\d./]*", "X", h).split()[1] for h in headlines}
    assert len(kinds) >= 7  # beat, draw, profit, to, elected, names, closes, launches...
    assert embedded.news_headlines(20, seed=1) == embedded.news_headlines(20, seed=1)
    assert embedded.news_headlines(20, seed=1) != embedded.news_headlines(20, seed=2)


def test_news_headlines_rejects_bad_sizes():
    with pytest.raises(ValueError, match="Invalid value for argument num_examples"):
        embedded.news_headlines(num_examples=0)
