"""Synthetic movie-review sentences labelled negative or positive, where word order decides.

The text classifiers' default data: clauses with negation and contrast ("not", "but", "even
though") that a bag of words cannot read. The corpus is a deterministic function of its seed.
"""

import random

from kzoo import validation

_SUBJECTS = (
    "the movie", "the film", "this movie", "this film", "the story", "the plot", "the script",
    "the acting", "the cast", "the ending", "the soundtrack", "the dialogue", "the direction",
    "the cinematography", "the pacing", "the humor", "the lead performance", "the final act",
    "the screenplay", "the score", "the premise", "the sequel", "the director's latest film",
    "this documentary", "the animation", "the editing", "the climax", "the opening scene",
    "the main character", "her performance", "his performance", "the whole thing",
)  # fmt: skip
_POSITIVE_ADJECTIVES = (
    "good", "great", "excellent", "wonderful", "brilliant", "superb", "charming", "delightful",
    "moving", "gripping", "clever", "funny", "beautiful", "stunning", "engaging", "fresh",
    "memorable", "powerful", "touching", "witty", "smart", "thrilling", "heartfelt", "inventive",
    "compelling", "enjoyable", "entertaining", "impressive", "solid", "satisfying", "original",
    "riveting", "elegant", "polished", "lovely",
)  # fmt: skip
_NEGATIVE_ADJECTIVES = (
    "bad", "awful", "terrible", "boring", "dull", "tedious", "bland", "clumsy", "predictable",
    "forgettable", "lifeless", "messy", "weak", "flat", "shallow", "silly", "tiresome",
    "painful", "pointless", "lazy", "confusing", "sloppy", "stale", "hollow", "overlong",
    "unfunny", "dreadful", "mediocre", "annoying", "disappointing", "uninspired", "wooden",
    "muddled", "pretentious", "cheap",
)  # fmt: skip
# (base form, past tense) of verbs whose subject is the viewer.
_POSITIVE_VERBS = (
    ("enjoy", "enjoyed"), ("love", "loved"), ("like", "liked"), ("admire", "admired"),
    ("adore", "adored"), ("appreciate", "appreciated"), ("recommend", "recommended"),
    ("cherish", "cherished"),
)  # fmt: skip
_NEGATIVE_VERBS = (
    ("hate", "hated"), ("dislike", "disliked"), ("despise", "despised"), ("loathe", "loathed"),
    ("detest", "detested"), ("resent", "resented"),
)  # fmt: skip
# (base form, third person) of verbs whose subject is the film.
_POSITIVE_ACTIONS = (
    ("work", "works"), ("shine", "shines"), ("deliver", "delivers"), ("succeed", "succeeds"),
    ("soar", "soars"), ("sparkle", "sparkles"), ("impress", "impresses"), ("excel", "excels"),
)  # fmt: skip
_NEGATIVE_ACTIONS = (
    ("drag", "drags"), ("fail", "fails"), ("disappoint", "disappoints"),
    ("stumble", "stumbles"), ("fizzle", "fizzles"), ("falter", "falters"), ("bore", "bores"),
    ("sag", "sags"),
)  # fmt: skip
_VIEWERS = (
    "i", "we", "my friends", "my wife", "my husband", "my kids", "everyone i know",
    "the audience", "critics", "my parents", "most viewers", "the whole family",
)  # fmt: skip
_COPULAS = ("is", "was", "feels", "seems")
# Negated copulas: every one flips the adjective's polarity ("hardly boring" is praise).
_NEGATED_COPULAS = (
    "is not", "was not", "isn't", "wasn't", "is never", "was never", "is hardly",
    "was hardly", "does not feel", "never feels", "doesn't seem", "hardly seems",
)  # fmt: skip
_INTENSIFIERS = ("very", "really", "truly", "incredibly", "quite", "so", "extremely", "rather")
_VERB_ADVERBS = ("really", "truly", "absolutely", "genuinely")
_PREFIXES = (
    "honestly,", "overall,", "in the end,", "to be honest,", "frankly,", "all in all,",
    "i have to say", "i think", "if you ask me,", "in my opinion,",
)  # fmt: skip
_SUFFIXES = (
    "from start to finish", "in the second half", "for most of its running time",
    "at least for me", "despite the hype", "on the big screen", "by the end", "this time",
    "on a second viewing", "for a summer release",
)  # fmt: skip


def _sentiment_clause(rng, polarity):
    """Returns a clause whose sentiment is `polarity` (1 positive, 0 negative)."""
    negated = rng.random() < 0.4
    # A negation flips the polarity of the word it governs.
    word_is_positive = bool(polarity) != negated
    kind = rng.choices(("copula", "viewer", "action"), weights=(5, 3, 2))[0]
    if kind == "copula":
        adjectives = _POSITIVE_ADJECTIVES if word_is_positive else _NEGATIVE_ADJECTIVES
        copula = rng.choice(_NEGATED_COPULAS if negated else _COPULAS)
        # "hardly very good" is not English; "not very good" and "never really funny" are.
        use_intensifier = rng.random() < 0.35 and "hardly" not in copula
        intensifier = [rng.choice(_INTENSIFIERS)] if use_intensifier else []
        return [rng.choice(_SUBJECTS), copula, *intensifier, rng.choice(adjectives)]
    if kind == "viewer":
        base, past = rng.choice(_POSITIVE_VERBS if word_is_positive else _NEGATIVE_VERBS)
        adverb = [rng.choice(_VERB_ADVERBS)] if rng.random() < 0.25 else []
        if not negated:
            verb = [*adverb, past]
        else:
            negation = rng.choice(("did not", "didn't", "never", "hardly"))
            verb = [negation, *adverb, base if negation in ("did not", "didn't") else past]
        return [rng.choice(_VIEWERS), *verb, rng.choice(_SUBJECTS)]
    base, third = rng.choice(_POSITIVE_ACTIONS if word_is_positive else _NEGATIVE_ACTIONS)
    if not negated:
        verb = [third]
    else:
        negation = rng.choice(("does not", "doesn't", "never", "hardly"))
        verb = [negation, base if negation.startswith("does") else third]
    return [rng.choice(_SUBJECTS), *verb]


def _sentiment_sentence(rng, label):
    structure = rng.choices(
        ("simple", "but", "although", "even though", "and"), weights=(40, 22, 14, 12, 12)
    )[0]
    main = _sentiment_clause(rng, label)  # the clause that decides
    if structure == "simple":
        words = main
    elif structure == "and":  # "X and Y": both clauses agree
        words = [*main, "and", *_sentiment_clause(rng, label)]
    else:  # the other clause has the opposite sentiment
        other = _sentiment_clause(rng, 1 - label)
        if structure == "but":  # "X, but Y": Y decides
            words = [*other, ", but", *main]
        elif structure == "although":  # "although X, Y": Y decides
            words = ["although", *other, ",", *main]
        else:  # "Y even though X": Y, the first clause, decides
            words = [*main, "even though", *other]
    if rng.random() < 0.3:
        words = [rng.choice(_PREFIXES), *words]
    if rng.random() < 0.3 or len(" ".join(words).split()) < 4:
        words = [*words, rng.choice(_SUFFIXES)]
    return " ".join(words).replace(" ,", ",")


def sentiment_corpus(num_examples=8000, seed=0):
    """Synthetic movie-review sentences labelled negative/positive, word order mattering.

    Each sentence is built from clauses such as "the plot was very clever", "i did not enjoy
    the sequel" or "the ending never works", from about 250 distinct words: 32 subjects, 35
    positive and 35 negative adjectives, positive and negative verbs, intensifiers, and
    neutral openings and endings ("honestly,", "from start to finish"). The label follows
    from the structure, deterministically:

    - a clause's sentiment is its adjective's or verb's, flipped by a negation ("not",
      "never", "hardly", "didn't"...): "the plot is hardly boring" is positive;
    - "X, but Y" and "although X, Y" take Y's sentiment; "Y even though X" takes Y's (the
      first clause); X has the opposite sentiment; "X and Y" have the same.

    A bag of words cannot read this: "not" and a positive word, or a positive and a negative
    clause, appear in sentences of both classes, so which clause a word is in, and what
    precedes it, decides. Held out, a logistic regression on word counts trained on 10,000
    sentences scores about 60% (70% with bigrams); a small bidirectional LSTM (`kzoo`'s
    `build_lstm_classifier`) trained on 6,000 scores over 99% after 8 epochs. Sentences
    have 4 to about 25 words, so length bucketing saves padding. Classes are balanced exactly.

    Args:
        num_examples: int. Number of sentences. Defaults to `8000`.
        seed: int. Random seed; the same seed gives the same corpus. Defaults to `0`.

    Returns:
        A tuple `(texts, labels, class_names)`: a list of `str`, a list of int (0 negative, 1
        positive) and `["negative", "positive"]`.

    Example:

    >>> texts, labels, class_names = sentiment_corpus(num_examples=4, seed=0)
    >>> len(texts), sorted(labels), class_names
    (4, [0, 0, 1, 1], ['negative', 'positive'])
    """
    validation.positive_int("num_examples", num_examples)
    rng = random.Random(seed)
    labels = [i % 2 for i in range(num_examples)]
    rng.shuffle(labels)
    texts = [_sentiment_sentence(rng, label) for label in labels]
    return texts, labels, ["negative", "positive"]
