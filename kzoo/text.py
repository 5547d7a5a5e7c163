"""Text augmentation by synonym replacement.

`augment` rewrites texts by replacing some words with a synonym drawn from a user's table or
from the nearest neighbours of a trained embedding (`kzoo.embeddings.WordVectors`), as the
"synonym replacement" of Wei and Zou (2019), "EDA: Easy Data Augmentation Techniques for
Boosting Performance on Text Classification Tasks" (https://arxiv.org/abs/1901.11196). Each
word that has a synonym is replaced independently with probability `rate`, so `rate=0`
returns the texts unchanged and `rate=1` replaces every word that has one.
"""

import numbers
import re

import numpy as np

from kzoo import validation
from kzoo.embeddings import WordVectors

# A word is a run of letters/digits, with inner apostrophes ("don't"); everything else
# (spaces, punctuation) is kept as it is.
_WORD = re.compile(r"\w+(?:['’]\w+)*")


def _match_case(replacement, original):
    """Gives `replacement` the casing pattern of `original`: UPPER, Title or as is."""
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _table_lookup(table):
    checked = {}
    for word, options in table.items():
        if (
            not isinstance(word, str)
            or isinstance(options, (str, bytes))
            or not hasattr(options, "__iter__")
        ):
            raise ValueError(
                "Invalid value for argument synonyms. Expected a dict mapping each word to a "
                f"list of synonyms. Received: synonyms[{word!r}]={options!r}"
            )
        options = list(options)
        if not all(isinstance(option, str) for option in options):
            raise ValueError(
                "Invalid value for argument synonyms. Expected lists of str synonyms. "
                f"Received: synonyms[{word!r}]={options!r}"
            )
        checked[word] = options

    def lookup(word):
        options = checked.get(word)
        return checked.get(word.lower(), []) if options is None else options

    return lookup


def _embedding_lookup(vectors, k, min_similarity):
    def lookup(word):
        for key in dict.fromkeys((word, word.lower())):
            if key in vectors:  # known words only: no synonyms guessed from n-grams
                return [
                    neighbour
                    for neighbour, similarity in vectors.most_similar(key, k)
                    if (min_similarity is None or similarity >= min_similarity)
                    and _WORD.fullmatch(neighbour)  # no punctuation tokens
                ]
        return []

    return lookup


def augment(texts, synonyms, rate=0.1, seed=0, k=5, min_similarity=None):
    """Replaces words with synonyms, at random but reproducibly.

    Texts are split into words (letters and digits, with inner apostrophes) and what lies
    between them; only words change, so spacing and punctuation stay as they were. A word's
    synonyms are looked up as written, then lower-cased; a replacement takes the word's casing
    (`Good` → `Fine`, `GOOD` → `FINE`), and is never the word itself (compared
    case-insensitively). Each word with at least one synonym is replaced with probability
    `rate`, by one of its synonyms drawn uniformly.

    Args:
        texts: str or list of str.
        synonyms: a dict `{word: [synonym, ...]}`, or a `kzoo.embeddings.WordVectors` whose
            `k` nearest neighbours of each known word are its synonyms (unknown words are left
            as they are).
        rate: float in [0, 1]. Probability of replacing each word that has a synonym.
            Defaults to `0.1`.
        seed: int. Random seed; the same seed and inputs give the same output. Defaults to `0`.
        k: int. Neighbours considered per word, with `WordVectors` only. Defaults to `5`.
        min_similarity: float or `None`. With `WordVectors`, keep only neighbours whose cosine
            similarity is at least this. Defaults to `None` (all `k`).

    Returns:
        The augmented text (for a str) or list of texts, in order.

    Example:

    >>> augment("The movie was good, really GOOD!", {"good": ["fine", "great"]}, rate=1.0)
    'The movie was great, really FINE!'
    >>> augment(["a good film"], {"good": ["fine"]}, rate=0.0)
    ['a good film']
    """
    single = isinstance(texts, str)
    batch = [texts] if single else texts
    if (
        isinstance(batch, (bytes, dict))
        or not hasattr(batch, "__iter__")
        or not all(isinstance(text, str) for text in batch)
    ):
        raise ValueError(
            "Invalid value for argument texts. Expected a str or a list of str. Received: "
            f"texts={str(texts)[:200]}"
        )
    if (
        not isinstance(rate, numbers.Real)
        or isinstance(rate, bool)
        or not 0.0 <= float(rate) <= 1.0
    ):
        raise ValueError(
            f"Invalid value for argument rate. Expected a float in [0, 1]. Received: rate={rate}"
        )
    if isinstance(synonyms, WordVectors):
        validation.positive_int("k", k)
        if min_similarity is not None and (
            not isinstance(min_similarity, numbers.Real) or isinstance(min_similarity, bool)
        ):
            raise ValueError(
                "Invalid value for argument min_similarity. Expected a float or None. "
                f"Received: min_similarity={min_similarity}"
            )
        lookup = _embedding_lookup(synonyms, k, min_similarity)
    elif isinstance(synonyms, dict):
        if min_similarity is not None:
            raise ValueError(
                "Invalid value for argument min_similarity. Expected None, as synonyms is a "
                f"table without similarities. Received: min_similarity={min_similarity}"
            )
        lookup = _table_lookup(synonyms)
    else:
        raise ValueError(
            "Invalid value for argument synonyms. Expected a dict {word: [synonyms]} or a "
            f"kzoo.embeddings.WordVectors. Received: synonyms of type {type(synonyms).__name__}"
        )

    rng = np.random.default_rng(seed)
    cache = {}

    def candidates(word):
        if word not in cache:
            seen = {word.lower()}
            options = []
            for option in lookup(word):
                if option and option.lower() not in seen:
                    seen.add(option.lower())
                    options.append(option)
            cache[word] = options
        return cache[word]

    def replace(match):
        word = match.group(0)
        options = candidates(word)
        # Draw for every word that has synonyms, whatever the rate, so that a text's random
        # stream does not depend on the rate and rate=1 only adds replacements.
        if not options:
            return word
        keep = rng.random() >= rate
        choice = options[rng.integers(len(options))]
        return word if keep else _match_case(choice, word)

    augmented = [_WORD.sub(replace, text) for text in batch]
    return augmented[0] if single else augmented


__all__ = ["augment"]
