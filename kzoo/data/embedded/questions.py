"""Synthetic questions labelled with the six coarse TREC question types.

A second classification corpus: classes share leading words and topics, so a model must learn
phrases, a rare class included. Templates are filled from shared topic lists, in TREC's class
proportions; the corpus is a deterministic function of its seed.
"""

import random
import re

from kzoo import validation

QUESTION_CLASSES = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
# Examples per class in TREC's training set (5,452 questions), whose proportions the corpus keeps.
_TREC_CLASS_COUNTS = (86, 1162, 1250, 1223, 835, 896)

_COUNTRIES = (
    "France", "Germany", "Japan", "Brazil", "Canada", "Egypt", "India", "Mexico", "Italy",
    "Spain", "Australia", "Kenya", "Peru", "Norway", "China", "Russia", "Argentina", "Greece",
    "Turkey", "Sweden", "Chile", "Ireland", "Poland", "Vietnam", "Portugal", "Morocco",
    "Nigeria", "Thailand", "Iceland", "Cuba", "Austria", "Finland", "Denmark", "Colombia",
    "Indonesia", "South Africa", "New Zealand", "Scotland", "Hungary", "Iran",
)  # fmt: skip
_CITIES = (
    "Paris", "Tokyo", "London", "Rome", "Cairo", "Sydney", "Chicago", "Berlin", "Moscow",
    "Madrid", "Boston", "Mumbai", "Toronto", "Lisbon", "Vienna", "Prague", "Dublin", "Athens",
    "Istanbul", "Seoul", "Venice", "Florence", "Amsterdam", "Barcelona", "Bangkok", "Lima",
    "Havana", "Oslo", "Stockholm", "Warsaw", "New York", "San Francisco", "Rio de Janeiro",
    "Buenos Aires", "Edinburgh", "Kyoto",
)  # fmt: skip
_PEOPLE = (
    "Shakespeare", "Einstein", "Mozart", "Napoleon", "Picasso", "Abraham Lincoln", "Gandhi",
    "Charles Darwin", "Isaac Newton", "Cleopatra", "Beethoven", "Galileo", "Thomas Edison",
    "Marie Curie", "Leonardo da Vinci", "Queen Victoria", "Charles Dickens", "Nelson Mandela",
    "Frida Kahlo", "Elvis Presley", "Jane Austen", "Vincent van Gogh", "Julius Caesar",
    "Mark Twain", "Winston Churchill", "Nikola Tesla", "Ada Lovelace", "Johann Sebastian Bach",
    "Florence Nightingale", "Martin Luther King", "Marco Polo", "Amelia Earhart",
)  # fmt: skip
_INVENTIONS = (
    "the telephone", "the light bulb", "the printing press", "the airplane", "the radio",
    "the telescope", "the steam engine", "television", "the bicycle", "the microscope",
    "the typewriter", "the compass", "the camera", "the refrigerator", "the computer",
    "the piano", "the thermometer", "the submarine", "the helicopter", "the zipper",
    "the sewing machine", "the electric guitar",
)  # fmt: skip
_DISCOVERIES = (
    "penicillin", "radium", "gravity", "electricity", "insulin", "DNA", "oxygen", "X-rays",
    "Pluto", "the electron", "vaccination", "radioactivity",
)  # fmt: skip
_EVENTS = (
    "the French Revolution", "World War II", "the Cold War", "the Gold Rush", "the Renaissance",
    "the Olympic Games", "the Great Depression", "the Industrial Revolution",
    "the American Civil War", "the Apollo program", "the Hundred Years War", "the Reformation",
    "the Russian Revolution", "the Space Race", "the Black Death", "the Crusades",
)  # fmt: skip
_ANIMALS = (
    "an elephant", "a giraffe", "a blue whale", "a cheetah", "a penguin", "an octopus",
    "a honeybee", "a spider", "a kangaroo", "a polar bear", "an ostrich", "a crocodile",
    "a koala", "a dolphin", "a camel", "a hummingbird", "a tortoise", "a gorilla", "a shark",
    "a bat",
)  # fmt: skip
_LANDMARKS = (
    "the Eiffel Tower", "the Colosseum", "Big Ben", "the Statue of Liberty", "the Taj Mahal",
    "the Great Wall", "the Parthenon", "the Golden Gate Bridge", "the Leaning Tower of Pisa",
    "the Sydney Opera House", "Stonehenge", "the Kremlin", "the Alhambra", "Machu Picchu",
)  # fmt: skip
_ACRONYMS = (
    "NASA", "FBI", "NATO", "UNESCO", "UNICEF", "IBM", "BBC", "FIFA", "OPEC", "CIA", "NBA", "MIT",
    "the WHO", "the IMF", "the EPA", "the UN", "the EU", "CERN", "Interpol", "the IRS",
)  # fmt: skip
_TERMS = (
    "laser", "radar", "scuba", "AIDS", "UFO", "ATM", "CPU", "GPS", "HTML", "AWOL", "CEO", "DNA",
    "PIN", "ASAP", "RSVP", "VIP", "IQ", "DVD", "LED", "SOS", "NASDAQ", "sonar", "modem",
    "AM", "PM", "BC", "AD", "USB", "PDF", "HIV", "MRI", "DJ", "TNT", "ZIP code",
    "PhD", "BMW", "VAT", "UV",
)  # fmt: skip
_ORGANIZATIONS = (
    "the United Nations", "the European Union", "the World Health Organization",
    "the National Basketball Association", "the Federal Bureau of Investigation",
    "the Central Intelligence Agency", "the International Monetary Fund",
    "the Massachusetts Institute of Technology", "the Environmental Protection Agency",
    "the British Broadcasting Corporation", "the Internal Revenue Service",
    "the North Atlantic Treaty Organization", "the International Olympic Committee",
)  # fmt: skip
_CONCEPTS = (
    "democracy", "photosynthesis", "inflation", "a black hole", "a sonnet", "an eclipse",
    "the greenhouse effect", "a haiku", "a vaccine", "jazz", "a monsoon", "a recession",
    "evolution", "a glacier", "impressionism", "a comet", "a fjord", "an atom", "a tariff",
    "a mortgage", "a virus", "socialism", "a symphony", "a hurricane",
)  # fmt: skip
_WORDS = (
    "serendipity", "nostalgia", "quarantine", "sabotage", "karaoke", "tsunami", "algebra",
    "boycott", "robot", "safari", "ketchup", "typhoon", "déjà vu", "zeitgeist", "guru",
    "avatar", "marathon", "jargon", "utopia", "vandal",
)  # fmt: skip
_PHENOMENA = (
    "earthquakes", "rainbows", "tides", "thunder", "the northern lights", "hiccups",
    "the seasons", "volcanoes", "hurricanes", "rust", "eclipses", "droughts", "avalanches",
    "yawns",
)  # fmt: skip
_FOODS = (
    "bread", "cheese", "chocolate", "pasta", "yogurt", "sushi", "paper", "glass", "soap",
    "butter", "tofu", "wine", "beer", "vinegar", "candles",
)  # fmt: skip
_SYMBOLS = (
    "a red rose", "the olive branch", "the color white", "a white flag", "the dove",
    "a four-leaf clover", "the owl", "a green light", "the lotus flower", "a black cat",
)  # fmt: skip
_LANGUAGES = ("English", "Spanish", "French", "Arabic", "German", "Portuguese", "Hindi")
_SLOTS = {
    "country": _COUNTRIES,
    "city": _CITIES,
    "person": _PEOPLE,
    "invention": _INVENTIONS,
    "invention_noun": tuple(name.removeprefix("the ") for name in _INVENTIONS),
    "discovery": _DISCOVERIES,
    "event": _EVENTS,
    "animal": _ANIMALS,
    "landmark": _LANDMARKS,
    "acronym": _ACRONYMS,
    "term": _TERMS,
    "organization": _ORGANIZATIONS,
    "concept": _CONCEPTS,
    "word": _WORDS,
    "phenomenon": _PHENOMENA,
    "food": _FOODS,
    "symbol": _SYMBOLS,
    "language": _LANGUAGES,
    "year": tuple(str(year) for year in range(1800, 2021)),
}

# Classes share their leading words ("what", "which", "how", "name", "in what"), their topics
# (a country or an organization is asked about in four or five classes) and many content
# words ("stand for", "capital", "invented", "born", "language", "famous", "city", "year"), and
# some templates differ mainly in word order: "in what city was Mozart living in the year
# 1850" (LOC) against "in what year was Mozart living in the city of Paris" (NUM).
_QUESTION_TEMPLATES = {
    "ABBR": (
        "what does {term} stand for",
        "what does {acronym} stand for",
        "what is the full form of {term}",
        "what is {term} short for",
        "what does the abbreviation {term} mean",
        "what is the abbreviation for {organization}",
        "what is the short name of {organization}",
        "how is {organization} abbreviated",
        "what is the meaning of the letters {term}",
        "which letters stand for {organization}",
        "what do the letters in {acronym} stand for",
    ),
    "DESC": (
        "what is {concept}",
        "what is the meaning of the word {word}",
        "what does the word {word} mean",
        "what does {symbol} stand for",
        "what does {acronym} do",
        "why did {person} leave {country}",
        "how does {invention} work",
        "how did {event} begin",
        "how do you make {food}",
        "what causes {phenomenon}",
        "what is the difference between {concept} and {concept}",
        "what does the flag of {country} look like",
        "how did {city} get its name",
        "why is {landmark} famous",
        "why was {invention} invented",
        "why did {person} move to {city}",
    ),
    "ENTY": (
        "what language is spoken in {country}",
        "what language do most people in {country} speak",
        "what language is spoken in the capital of {country}",
        "what currency does {country} use",
        "what is the national animal of {country}",
        "what color is the flag of {country}",
        "what food is the city of {city} famous for",
        "what instrument did {person} play",
        "what disease did {person} die of",
        "what is the name of the most famous painting by {person}",
        "which animal is the symbol of {acronym}",
        "what kind of animal is {animal}",
        "what sport do most people in {country} play",
        "what is {food} made from",
        "what was invented by {person} in the year {year}",
    ),
    "HUM": (
        "who invented {invention}",
        "who discovered {discovery}",
        "who was the first president of {country}",
        "what is the name of the person who leads {acronym}",
        "which scientist discovered {discovery}",
        "name the person who invented {invention}",
        "what was the real name of {person}",
        "which team won the world cup in {year}",
        "which company made the first {invention_noun}",
        "who built {landmark}",
        "what person founded the city of {city}",
        "who was the leader of {country} in the year {year}",
        "who is the mayor of the capital of {country}",
        "who was famous for {invention} in {country}",
    ),
    "LOC": (
        "where is {city}",
        "where was {person} born",
        "where did {event} take place",
        "what is the capital of {country}",
        "which country is {city} in",
        "what city is {landmark} in",
        "in what country was {invention} invented",
        "name a country that borders {country}",
        "what river flows through {city}",
        "what is the largest city in {country}",
        "where is {acronym} based",
        "in what city was {person} living in the year {year}",
        "in what city was the person who invented {invention} born",
        "what city was founded by {person}",
        "what city is famous for {food}",
        "in what country is the language {language} spoken",
    ),
    "NUM": (
        "how many people live in {country}",
        "how many legs does {animal} have",
        "how much does {animal} weigh",
        "how long did {event} last",
        "how far is {city} from {city}",
        "when was {invention} invented",
        "what year did {event} start",
        "what is the population of the capital of {country}",
        "how tall is {landmark}",
        "how fast can {animal} run",
        "in what year was {person} living in the city of {city}",
        "in what year was the person who invented {invention} born",
        "when was {acronym} founded",
        "how many people in {country} speak {language}",
        "how many countries are members of {acronym}",
    ),
}
_SLOT = re.compile(r"\{(\w+)\}")


def _fill_question(rng, template):
    question = _SLOT.sub(lambda match: rng.choice(_SLOTS[match.group(1)]), template)
    return question[0].upper() + question[1:] + " ?"


def _class_counts(total, weights):
    """Splits `total` in proportion to `weights`, rounding by largest remainder."""
    shares = [total * weight / sum(weights) for weight in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def question_corpus(num_examples=6000, seed=0):
    """Synthetic questions labelled with the 6 coarse TREC question types.

    In the spirit of TREC (Li and Roth, 2002): what kind of answer does a question ask for?
    `ABBR` (an abbreviation or its expansion), `DESC` (a description, definition, reason or
    manner), `ENTY` (an entity: colour, language, animal, food...), `HUM` (a person or group),
    `LOC` (a place) and `NUM` (a number, date, size or duration). 87 templates, 11 to 16 per
    class, are filled from shared topic lists (countries, cities, people, inventions, events,
    animals, landmarks, organizations, years...), for a vocabulary of about 760 words.
    Classes keep TREC's training-set proportions (1.6% `ABBR`, 21-23% `DESC`, `ENTY` and
    `HUM`, 15-16% `LOC` and `NUM`), and questions do not repeat: the default 6,000 are all
    distinct but one, so a random split does not test on training questions.

    Leading words, topics and many content words are shared between classes: "what" opens
    questions of every class, "how" both `DESC` ("how does the radio work") and `NUM` ("how
    many legs does a spider have"), "stand for" both `ABBR` and `DESC` ("what does a red rose
    stand for"), and "in what city was Mozart living in the year 1850" (`LOC`) has the words of
    "in what year was Mozart living in the city of Paris" (`NUM`). So the type mostly rests on
    phrases rather than single words; "who", "where", "when" and "why" remain giveaways, as
    they are in TREC. Like TREC, the set is nearly separable by a linear bag-of-words model;
    it checks that a classifier learns question phrases, including for a rare class, from a
    few thousand examples. Text is cased and ends in " ?", as TREC's is.

    Args:
        num_examples: int. Number of questions. Defaults to `6000`.
        seed: int. Random seed; the same seed gives the same corpus. Defaults to `0`.

    Returns:
        A tuple `(texts, labels, class_names)`: a list of `str`, a list of int indexing
        `class_names`, and `["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]`.

    Example:

    >>> texts, labels, class_names = question_corpus(num_examples=100, seed=0)
    >>> class_names
    ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM']
    >>> [labels.count(i) for i in range(6)]
    [2, 21, 23, 22, 15, 17]
    >>> texts[0].endswith(" ?")
    True
    """
    validation.positive_int("num_examples", num_examples)
    rng = random.Random(seed)
    labels = [
        label
        for label, count in enumerate(_class_counts(num_examples, _TREC_CLASS_COUNTS))
        for _ in range(count)
    ]
    rng.shuffle(labels)
    texts, seen = [], set()
    for label in labels:
        templates = _QUESTION_TEMPLATES[QUESTION_CLASSES[label]]
        # Draw again when a question repeats, so that a split does not test on training
        # questions; after 100 tries a repeat is kept (only for corpora near the templates'
        # capacity).
        for _ in range(100):
            text = _fill_question(rng, rng.choice(templates))
            if text not in seen:
                break
        seen.add(text)
        texts.append(text)
    return texts, labels, list(QUESTION_CLASSES)
