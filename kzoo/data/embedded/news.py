"""Short template news stories paired with their headlines, for summarisation.

The summarisation recipe's default data: the news sentence sits anywhere in the article and the
headline rewrites it, so the lead baseline scores far below a model that learned. A
deterministic function of its seed.
"""

import random

from kzoo import validation

# The stories' days; the order matters, as the seeded draws index it.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CITIES = (
    "Boston", "Denver", "Leeds", "Lyon", "Osaka", "Perth", "Austin", "Dublin", "Porto",
    "Calgary", "Turin", "Malmo", "Leipzig", "Tampa", "Cork", "Bergen", "Seville", "Adelaide",
)  # fmt: skip
_TEAMS = (
    "Tigers", "Sharks", "Eagles", "Wolves", "Bears", "Falcons", "Hornets", "Rangers",
    "Pirates", "Comets", "Giants", "Royals", "Rockets", "Panthers", "Mariners", "Lions",
)  # fmt: skip
_FIRST_NAMES = (
    "Anna", "James", "Maria", "David", "Sofia", "Tom", "Lena", "Omar", "Grace", "Luis",
    "Mei", "Peter", "Nina", "Ravi", "Clara", "Jonas",
)  # fmt: skip
_LAST_NAMES = (
    "Keller", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Walsh", "Novak", "Silva",
    "Brennan", "Haddad", "Fischer", "Costa", "Murphy", "Sato", "Jensen", "Rossi",
)  # fmt: skip
_COMPANIES = (
    "Acme", "Norwind", "Bluepeak", "Veltro", "Harbor Foods", "Kestrel Air", "Orion Steel",
    "Solace Health", "Brightline", "Quanta Labs", "Redwood Motors", "Silverleaf",
)  # fmt: skip
_PRODUCTS = (
    "electric cars", "smartphones", "frozen meals", "wind turbines", "running shoes",
    "coffee machines", "cloud software", "jet engines",
)  # fmt: skip
_PARTIES = ("Green", "Liberal", "Labour", "Conservative", "independent")
_STORMS = ("storm", "blizzard", "tropical storm", "hurricane")
_ROADS = ("A4", "M6", "Route 9", "I-95", "A1", "Highway 2")
_AGENCIES = ("ESA", "NASA", "JAXA", "ISRO")
_MISSIONS = ("Aurora", "Helix", "Tern", "Vega", "Kite", "Nomad")
_PLANETS = ("Mars", "Venus", "Jupiter", "Mercury", "Saturn")
_COMMODITIES = (
    ("gold", "ounce"), ("oil", "barrel"), ("copper", "tonne"), ("wheat", "bushel"),
    ("coffee", "pound"),
)  # fmt: skip


def _person(rng):
    return rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)


def _match_story(rng, day, city):
    a, b, c = rng.sample(_TEAMS, 3)
    if rng.random() < 0.15:
        score = rng.randint(0, 4)
        key = f"The {a} and the {b} drew {score}-{score} on {day} in {city}."
        return key, ["Neither side scored in the first half."], f"{a} and {b} draw {score}-{score}"
    win, lose = rng.randint(1, 6), 0
    lose = rng.randint(0, win - 1)
    crowd = f"{rng.randint(5, 60) * 500:,}"
    key = rng.choice(
        [
            f"The {a} beat the {b} {win}-{lose} on {day} in front of {crowd} fans in {city}.",
            f"The {b} were beaten {win}-{lose} by the {a} in {city} on {day}.",
            f"The {b} lost {win}-{lose} to the {a} on {day}, in front of {crowd} fans.",
        ]
    )
    first, last = _person(rng)
    others = [
        f"{first} {last} scored twice for the {a}.",
        f"The {b} host the {c} next week.",
        f"It was the {rng.choice(['second', 'third', 'fourth', 'fifth'])} win in a row for "
        f"the {a}.",
    ]
    return key, others, f"{a} beat {b} {win}-{lose}"


def _earnings_story(rng, day, city):
    company, product = rng.choice(_COMPANIES), rng.choice(_PRODUCTS)
    up = rng.random() < 0.5
    percent, amount = rng.randint(2, 40), f"{rng.randint(1, 99) / 10:.1f}"
    quarter = rng.choice(["first-quarter", "second-quarter", "third-quarter", "annual"])
    key = (
        f"{company} said on {day} that its {quarter} profit {'rose' if up else 'fell'} "
        f"{percent} percent to {amount} billion dollars."
    )
    first, last = _person(rng)
    others = [
        f"The {city}-based company makes {product}.",
        f"Its shares closed {'up' if rng.random() < 0.5 else 'down'} {rng.randint(1, 9)} percent.",
        f"Chief executive {first} {last} said demand for {product} "
        f"{'remained strong' if up else 'had slowed'}.",
    ]
    return key, others, f"{company} profit {'rises' if up else 'falls'} {percent} percent"


def _weather_story(rng, day, city):
    storm, winds = rng.choice(_STORMS), rng.randint(6, 18) * 10
    key = (
        f"Forecasters warned that a {storm} will hit {city} on {day}, bringing winds of up "
        f"to {winds} km/h."
    )
    others = [
        f"Schools in {city} will stay closed, and {rng.randint(20, 300)} flights have been "
        "cancelled.",
        f"The last {storm} of this size hit the region in {rng.randint(1950, 2020)}.",
        "Residents were told to stay indoors.",
    ]
    return key, others, f"{storm.capitalize()} to hit {city} with {winds} km/h winds"


def _election_story(rng, day, city):
    (first, last), (first2, last2) = _person(rng), _person(rng)
    while last2 == last:
        first2, last2 = _person(rng)
    party, percent = rng.choice(_PARTIES), rng.randint(40, 70)
    key = rng.choice(
        [
            f"{first} {last}, the {party} candidate, won the race for mayor of {city} on "
            f"{day} with {percent} percent of the vote.",
            f"{first2} {last2} conceded defeat on {day} after {first} {last} took {percent} "
            f"percent of the vote in the race for mayor of {city}.",
        ]
    )
    others = [
        f"Turnout was {rng.randint(30, 80)} percent.",
        f"{first2} {last2} had led in the polls until last month.",
    ]
    return key, others, f"{last} elected mayor of {city}"


def _appointment_story(rng, day, city):
    company = rng.choice(_COMPANIES)
    (first, last), (first2, last2) = _person(rng), _person(rng)
    while last2 == last:
        first2, last2 = _person(rng)
    years = rng.randint(3, 25)
    key = rng.choice(
        [
            f"{company} has named {first} {last} as its new chief executive, replacing "
            f"{first2} {last2}, who retires after {years} years.",
            f"{first2} {last2} will step down as chief executive of {company} after {years} "
            f"years and be replaced by {first} {last}, the company said on {day}.",
        ]
    )
    others = [
        f"{last} previously ran the group's {rng.choice(_PRODUCTS)} business.",
        f"The company is based in {city}.",
    ]
    return key, others, f"{company} names {last} chief executive"


def _road_story(rng, day, city):
    road, cars, hours = rng.choice(_ROADS), rng.randint(2, 9), rng.randint(2, 8)
    key = f"A crash involving {cars} cars closed the {road} near {city} for {hours} hours on {day}."
    others = [
        f"Police said {rng.randint(1, 6)} people were taken to hospital.",
        "Drivers were advised to avoid the area.",
    ]
    return key, others, f"Crash closes {road} near {city}"


def _launch_story(rng, day, city):
    agency, mission, planet = rng.choice(_AGENCIES), rng.choice(_MISSIONS), rng.choice(_PLANETS)
    key = (
        f"{agency} launched its {mission} probe towards {planet} on {day}, after a delay of "
        f"{rng.randint(2, 30)} days."
    )
    others = [
        f"The probe will take {rng.randint(2, 9)} years to reach {planet}.",
        f"Engineers in {city} built its cameras.",
    ]
    return key, others, f"{agency} launches {mission} probe to {planet}"


def _price_story(rng, day, city):
    (commodity, unit), up = rng.choice(_COMMODITIES), rng.random() < 0.5
    price, months = rng.randint(20, 300), rng.randint(2, 24)
    key = (
        f"The price of {commodity} {'rose' if up else 'fell'} to {price} dollars a {unit} on "
        f"{day}, its {'highest' if up else 'lowest'} level in {months} months."
    )
    others = [
        f"Traders in {city} blamed {'strong demand' if up else 'weak demand'}.",
        "Analysts expect prices to stay volatile.",
    ]
    return key, others, f"{commodity.capitalize()} {'climbs' if up else 'drops'} to {price} dollars"


_STORIES = (
    _match_story, _earnings_story, _weather_story, _election_story, _appointment_story,
    _road_story, _launch_story, _price_story,
)  # fmt: skip


def news_headlines(num_examples=10000, seed=0):
    """Short news stories paired with their headlines, for summarisation.

    Eight kinds of story (match results, company profits, storm warnings, elections, new
    chief executives, road closures, space launches, commodity prices), each an article of
    two to four sentences: the sentence with the news, one or two sentences of context in a
    random order around it, and sometimes a dateline ("LYON, Friday -"). The headline says
    the news in headline style, in its own words: "The Sharks were beaten 3-1 by the Tigers in
    Lyon on Friday." → "Tigers beat Sharks 3-1"; "... its annual profit fell 12 percent to
    4.5 billion dollars." → "Veltro profit falls 12 percent"; "Maria Silva, the Green
    candidate, won the race for mayor of Cork ..." → "Silva elected mayor of Cork".

    A model has to find the news sentence wherever it is, copy the right names and numbers
    (the winner, not the team named first; the surname only) and rewrite the verbs ("rose" →
    "rises", "were beaten by" → "beat"), so the first words of the article (the lead baseline)
    score far below a model that learned. The headline is a function of the article.

    Args:
        num_examples: int. Number of stories. Defaults to `10000`.
        seed: int. Random seed; the same seed gives the same stories. Defaults to `0`.

    Returns:
        A tuple `(articles, headlines)` of two lists of `str`.

    Example:

    >>> articles, headlines = news_headlines(num_examples=3, seed=0)
    >>> for headline in headlines:
    ...     print(headline)
    ESA launches Tern probe to Saturn
    Tropical storm to hit Seville with 80 km/h winds
    Coffee climbs to 242 dollars
    """
    validation.positive_int("num_examples", num_examples)
    rng = random.Random(seed)
    articles, headlines = [], []
    for _ in range(num_examples):
        day, city = rng.choice(_WEEKDAYS), rng.choice(_CITIES)
        key, others, headline = rng.choice(_STORIES)(rng, day, city)
        context = rng.sample(others, k=min(len(others), rng.randint(1, 2)))
        sentences = [*context]
        sentences.insert(rng.randint(0, len(context)), key)
        if rng.random() < 0.3:
            sentences[0] = f"{city.upper()}, {day} - {sentences[0]}"
        articles.append(" ".join(sentences))
        headlines.append(headline)
    return articles, headlines
