"""Synthetic tagged sentences: words with part-of-speech tags and IOB2 named-entity tags.

The sequence-labelling corpus: each sentence is a clause from a template (news, e-mail and
forum registers) with optional phrases around it, filled with people, places and organisations.
Names are drawn from lists and built from syllables, so that the test split holds names never
seen in training (the character features must carry them), and some words are a person in one
sentence and a place or a common word in another ("Jordan", "Washington", "May", "Bill"), so
that context decides. The corpus is a deterministic function of its seed.
"""

import random

from kzoo import validation

ENTITY_TYPES = ("PER", "LOC", "ORG")

_FIRST = (
    "Anna", "James", "Maria", "David", "Sofia", "Peter", "Laura", "Ahmed", "Mei", "Carlos",
    "Olga", "Kwame", "Priya", "Tom", "Elena", "Hiroshi", "Fatima", "Lucas", "Grace", "Ivan",
    "Nora", "Samuel", "Aisha", "Jonas", "Chloe", "Diego", "Hannah", "Omar", "Rosa", "Victor",
    "Bill", "May", "Jordan", "Georgia", "Will", "Rose",
)  # fmt: skip
_LAST = (
    "Smith", "Garcia", "Müller", "Chen", "Okafor", "Kowalski", "Rossi", "Tanaka", "Silva",
    "Johnson", "Nguyen", "Dubois", "Ivanova", "Haddad", "O'Brien", "Larsen", "Patel", "Kim",
    "Novak", "Fischer", "Moreau", "Costa", "Jensen", "Washington", "Jordan", "Brooks",
)  # fmt: skip
_SYLLABLES = (
    "ka", "ro", "mi", "lan", "te", "bor", "va", "sel", "dun", "quo", "ri", "ash", "en", "tor",
    "gal", "fe", "no", "win", "zar", "bel", "ot", "mar", "li", "sten", "ha", "ver", "dor", "us",
)  # fmt: skip
_CITIES = (
    "Paris", "Lagos", "Tokyo", "Boston", "Madrid", "Cairo", "Oslo", "Lima", "Seoul", "Denver",
    "Mumbai", "Prague", "Nairobi", "Quebec", "Dublin", "Houston", "Washington", "Jordan",
    "Georgia", "New York", "Los Angeles", "San Diego", "Hong Kong", "Buenos Aires", "Tel Aviv",
    "Cape Town", "Rio de Janeiro",
)  # fmt: skip
_COUNTRIES = (
    "France", "Nigeria", "Japan", "Canada", "Peru", "Kenya", "Norway", "India", "Brazil",
    "Egypt", "Chile", "Poland", "Vietnam", "Mexico", "Ireland", "Italy", "Turkey", "Ghana",
)  # fmt: skip
_ORG_NAMES = (
    "Acme", "Globex", "Initech", "Umbrella", "Vertex", "Northwind", "Contoso", "Apex", "Zenith",
    "Stark", "Wayne", "Oceanic", "Pioneer", "Summit", "Atlas", "Horizon", "Redwood", "Falcon",
)  # fmt: skip
_ORG_SUFFIXES = ("Inc.", "Corp.", "Ltd.", "Group", "Bank", "Airlines", "Motors", "Labs", "Media")
_ORG_KINDS = ("University", "Ministry", "Bank", "Museum", "Institute", "Council", "Academy")
_ORG_KIND_FIELDS = ("Health", "Science", "Finance", "Education", "Art", "Technology", "Trade")

# Clause templates: words as word/TAG, slots in braces. {PER}, {LOC} and {ORG} are entities; the
# others are common words drawn from the lists below.
_CLAUSES = (
    "{PER} works/VERB for/ADP {ORG}",
    "{PER} moved/VERB to/ADP {LOC} last/ADJ {TIME}",
    "{ORG} opened/VERB a/DET new/ADJ {THING} in/ADP {LOC}",
    "{ORG} said/VERB that/SCONJ {PER} would/AUX {VERB} the/DET {THING}",
    "the/DET {THING} in/ADP {LOC} was/AUX {ADJ}",
    "I/PRON met/VERB {PER} at/ADP the/DET {ORG} office/NOUN",
    "we/PRON flew/VERB from/ADP {LOC} to/ADP {LOC}",
    "{PER} and/CCONJ {PER} visited/VERB {LOC}",
    "{PER} is/AUX the/DET new/ADJ {ROLE} of/ADP {ORG}",
    "does/AUX anyone/PRON know/VERB a/DET good/ADJ {THING} in/ADP {LOC}",
    "thanks/NOUN for/ADP the/DET {ADJ} {THING} ,/PUNCT {PER}",
    "{ORG} will/AUX not/PART {VERB} the/DET {THING}",
    "{PER} bought/VERB {NUM} {THINGS} from/ADP {ORG}",
    "the/DET {ROLE} told/VERB {PER} to/PART {VERB} the/DET {THING}",
    "{LOC} is/AUX {ADJ} in/ADP {TIME}",
    "please/INTJ call/VERB {PER} before/ADP {DAY}",
    "my/PRON {ROLE} from/ADP {LOC} recommended/VERB {ORG}",
    "{ORG} hired/VERB {NUM} {ROLES} in/ADP {LOC}",
    "{PER} left/VERB {ORG} and/CCONJ joined/VERB {ORG}",
    "it/PRON costs/VERB $/SYM {NUM} to/PART fly/VERB to/ADP {LOC}",
    "where/ADV did/AUX {PER} {VERB} the/DET {THING}",
    "they/PRON {VERB} the/DET {THINGS} {ADV}",
    "{PER} wrote/VERB to/ADP {ORG} about/ADP the/DET {THING}",
    "{ORG} and/CCONJ {ORG} signed/VERB a/DET deal/NOUN",
    "the/DET {THINGS} from/ADP {LOC} are/AUX {ADJ}",
)
_OPENERS = (
    "yesterday/NOUN ,/PUNCT",
    "on/ADP {DAY} ,/PUNCT",
    "according/VERB to/ADP {PER} ,/PUNCT",
    "in/ADP {LOC} ,/PUNCT",
    "however/ADV ,/PUNCT",
    "well/INTJ ,/PUNCT",
)
_CLOSERS = (
    "in/ADP {LOC}",
    "on/ADP {DAY}",
    "with/ADP {PER}",
    "for/ADP {ORG}",
    "because/SCONJ it/PRON was/AUX {ADJ}",
    "after/ADP the/DET {THING}",
)
_ENDINGS = (("./PUNCT", 6), ("!/PUNCT", 1), ("?/PUNCT", 1), ("", 1))

_COMMON = {
    "THING": "meeting report store game hotel project contract restaurant plan budget flight",
    "THINGS": "tickets cars phones books shares computers shoes houses",
    "ROLE": "director manager doctor teacher lawyer coach editor",
    "ROLES": "engineers nurses drivers analysts teachers",
    "ADJ": "great terrible expensive busy quiet cold late ready",
    "ADV": "quickly today again soon",
    "VERB": "cancel sign approve sell review announce",
    "TIME": "year month week spring winter",
    "DAY": "Monday Tuesday Friday Sunday",
}
_TAGS = {
    "THING": "NOUN",
    "THINGS": "NOUN",
    "ROLE": "NOUN",
    "ROLES": "NOUN",
    "ADJ": "ADJ",
    "ADV": "ADV",
    "VERB": "VERB",
    "TIME": "NOUN",
    "DAY": "PROPN",
}


def _made_up_name(rng, syllables=(2, 3)):
    word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(*syllables)))
    return word.capitalize()


def _person(rng):
    """Words and tags of a person's name (the title, when there is one, is no part of it)."""
    first = rng.choice(_FIRST) if rng.random() < 0.7 else _made_up_name(rng)
    last = rng.choice(_LAST) if rng.random() < 0.6 else _made_up_name(rng)
    form = rng.random()
    if form < 0.15:
        return [("Dr.", "PROPN", "O"), (last, "PROPN", "B-PER")]
    if form < 0.3:
        return [(last, "PROPN", "B-PER")]
    if form < 0.4:
        initial = rng.choice("ABCDEJKLMRST") + "."
        return [(first, "PROPN", "B-PER"), (initial, "PROPN", "I-PER"), (last, "PROPN", "I-PER")]
    return [(first, "PROPN", "B-PER"), (last, "PROPN", "I-PER")]


def _place(rng):
    form = rng.random()
    if form < 0.45:
        words = rng.choice(_CITIES).split()
    elif form < 0.75:
        words = rng.choice(_COUNTRIES).split()
    elif form < 0.9:
        words = [_made_up_name(rng)]
    else:
        words = [rng.choice(("Port", "Lake", "Mount", "North", "San")), _made_up_name(rng)]
    tagged = [(w, "ADP" if w == "de" else "PROPN") for w in words]
    return [(w, t, ("B-" if i == 0 else "I-") + "LOC") for i, (w, t) in enumerate(tagged)]


def _organisation(rng):
    form = rng.random()
    if form < 0.4:
        name = rng.choice(_ORG_NAMES) if rng.random() < 0.6 else _made_up_name(rng)
        words = [(name, "PROPN"), (rng.choice(_ORG_SUFFIXES), "PROPN")]
    elif form < 0.65:
        words = [(rng.choice(_ORG_KINDS), "PROPN"), ("of", "ADP")]
        field = rng.choice(_ORG_KIND_FIELDS) if rng.random() < 0.6 else None
        place = [(w, t) for w, t, _ in _place(rng)]
        words += [(field, "PROPN")] if field else place
    elif form < 0.85:
        letters = "".join(rng.choice("ABCDEFGHIKLMNPRSTUW") for _ in range(rng.randint(2, 4)))
        words = [(letters, "PROPN")]
    else:
        words = [(rng.choice(_ORG_NAMES), "PROPN")]
    return [(w, t, ("B-" if i == 0 else "I-") + "ORG") for i, (w, t) in enumerate(words)]


_ENTITIES = {"PER": _person, "LOC": _place, "ORG": _organisation}


def _expand(template, rng):
    """The (word, UPOS tag, IOB2 tag) triples of a template."""
    tokens = []
    for piece in template.split():
        if piece.startswith("{"):
            slot = piece[1:-1]
            if slot in _ENTITIES:
                tokens += _ENTITIES[slot](rng)
            elif slot == "NUM":
                tokens.append((str(rng.choice((2, 3, 5, 12, 40, 250, 1999))), "NUM", "O"))
            else:
                tokens.append((rng.choice(_COMMON[slot].split()), _TAGS[slot], "O"))
        else:
            word, _, tag = piece.rpartition("/")
            tokens.append((word, tag, "O"))
    return tokens


def _sentence(rng):
    parts = []
    if rng.random() < 0.25:
        parts.append(rng.choice(_OPENERS))
    parts.append(rng.choice(_CLAUSES))
    if rng.random() < 0.35:
        parts.append(rng.choice(_CLOSERS))
    endings, weights = zip(*_ENDINGS)
    parts.append(rng.choices(endings, weights)[0])
    tokens = _expand(" ".join(parts), rng)
    word, tag, entity = tokens[0]
    if entity == "O" and rng.random() < 0.8:  # most sentences start with a capital
        tokens[0] = (word[:1].upper() + word[1:], tag, entity)
    return tokens


def tagged_sentences(num_sentences=6000, seed=0):
    """Synthetic sentences with part-of-speech and named-entity tags, for sequence labelling.

    Each sentence is one of 25 clause templates (reports, e-mail, forum questions), sometimes
    opened by a phrase ("yesterday ,", "according to Anna Smith ,") and closed by another ("in
    Oslo"), filled with people (first and last names, "Dr." titles outside the entity, middle
    initials), places (cities, countries, "Port Kalan") and organisations ("Globex Corp.",
    "University of Lagos", acronyms). About half of the names are made of random syllables,
    so that test sentences hold names that training never saw, and some words are people in
    one sentence and places in another ("Jordan", "Washington", "Georgia") or a common word
    elsewhere ("May", "Will", "Bill"). Tags are universal POS tags (UPOS) and IOB2 entity tags
    of the types PER, LOC and ORG, those of Universal NER.

    Args:
        num_sentences: int. Number of sentences. Defaults to `6000`.
        seed: int. Random seed; the same seed gives the same corpus. Defaults to `0`.

    Returns:
        A tuple `(words, pos_tags, entity_tags)`: three lists of equally long lists of str,
        one per sentence.

    Example:

    >>> words, pos_tags, entity_tags = tagged_sentences(num_sentences=3, seed=1)
    >>> len(words), len(words[0]) == len(pos_tags[0]) == len(entity_tags[0])
    (3, True)
    >>> sorted({tag[2:] for tags in entity_tags for tag in tags if tag != "O"}) <= ["LOC",
    ...     "ORG", "PER"]
    True
    """
    validation.positive_int("num_sentences", num_sentences)
    rng = random.Random(seed)
    words, pos_tags, entity_tags = [], [], []
    for _ in range(num_sentences):
        tokens = _sentence(rng)
        words.append([word for word, _, _ in tokens])
        pos_tags.append([tag for _, tag, _ in tokens])
        entity_tags.append([entity for _, _, entity in tokens])
    return words, pos_tags, entity_tags
