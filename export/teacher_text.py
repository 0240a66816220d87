"""What the teacher reads: sentences from the corpora's text lists and generated kiosk and
assistant text, written as a user would type it ("$7.99", "Dr. Lee", "10:30 a.m.", "4.5 kg"),
so the runtime's normalizer is trained the way it will be used.

Nothing held out is ever drawn: the `text` lines of export/heldout.txt and every sentence
of the benchmark lists (benchmarks/sentences*.txt) are refused by `TextPool`.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from edgevc.export.heldout import HeldOut, text_key

BENCHMARK_SENTENCES = sorted((Path(__file__).resolve().parent.parent / "benchmarks").glob("sentences*.txt"))
MAX_WORDS = 30  # about 10 s of speech; longer lines cost the aligner and pad batches

FIRST = ["Anna", "Ben", "Carlos", "Diana", "Ethan", "Fatima", "George", "Hannah", "Ivan", "Julia",
         "Kenji", "Laura", "Mohammed", "Nora", "Oscar", "Priya", "Quinn", "Rosa", "Samuel", "Tara",
         "Umar", "Vera", "William", "Xavier", "Yuki", "Zoe", "Grace", "Henry", "Olivia", "Lucas"]
LAST = ["Nguyen", "Smith", "Garcia", "Okafor", "Kowalski", "Schmidt", "Johnson", "Rossi", "Tanaka",
        "Murphy", "Haddad", "Larsen", "Brown", "Silva", "Chen", "Walker", "Moreau", "Fischer", "Ali",
        "Reyes", "Novak", "Hughes", "Kim", "Baker", "Evans", "Cohen", "Singh", "Lopez", "Young"]
TITLES = ["Dr.", "Mr.", "Mrs.", "Ms.", "Prof."]
STREETS = ["Oak", "Maple", "Pine", "Cedar", "Lake", "Hill", "Park", "Main", "Church", "River",
           "Washington", "Lincoln", "Sunset", "Broad", "Market", "Spring", "Willow", "Harbor"]
STREET_KINDS = ["St.", "Ave.", "Rd.", "Blvd.", "Dr.", "Ln.", "Street", "Avenue", "Road"]
CITIES = ["Springfield", "Portland", "Austin", "Denver", "Boston", "Chicago", "Seattle", "Atlanta",
          "Phoenix", "Detroit", "Nashville", "Oakland", "Madison", "Toronto", "Dublin", "Leeds"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
MONTH_ABBR = ["Jan.", "Feb.", "Mar.", "Apr.", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ITEMS = ["coffee", "sandwich", "salad", "ticket", "umbrella", "phone charger", "notebook",
         "backpack", "bottle of water", "pair of headphones", "lamp", "blanket", "bag of rice",
         "winter coat", "bicycle helmet", "bus pass", "bouquet", "desk chair", "toaster", "scarf"]
PLACES = ["pharmacy", "front desk", "ticket office", "food court", "parking garage", "library",
          "gym", "waiting room", "lost and found", "gift shop", "main lobby", "train platform",
          "emergency exit", "baggage claim", "post office", "clinic", "museum entrance", "café"]
UNITS = [("kg", 1, 40), ("lbs", 1, 60), ("km", 1, 90), ("miles", 1, 50), ("cm", 5, 200),
         ("mm", 2, 90), ("ml", 50, 900), ("liters", 1, 20), ("GB", 1, 512), ("mph", 10, 70),
         ("km/h", 10, 120), ("%", 1, 99), ("°F", 20, 100), ("°C", -10, 40), ("minutes", 2, 55),
         ("hours", 2, 12), ("oz", 2, 32), ("ft", 2, 90), ("in.", 2, 60)]
ACRONYMS = ["ATM", "USB", "PIN", "Wi-Fi", "TV", "ID", "FAQ", "GPS", "NASA", "FBI", "UK", "USA",
            "EU", "CEO", "DVD", "PDF", "SMS", "HR", "IT", "ER"]
GREETINGS = ["Hello", "Hi there", "Good morning", "Good afternoon", "Good evening", "Welcome back",
             "Thanks for waiting", "Excuse me", "Okay", "Sure", "Of course", "Great"]


def _name(r: random.Random) -> str:
    if r.random() < 0.4:
        return f"{r.choice(TITLES)} {r.choice(LAST)}"
    return f"{r.choice(FIRST)} {r.choice(LAST)}" if r.random() < 0.6 else r.choice(FIRST)


def _money(r: random.Random) -> str:
    kind = r.random()
    if kind < 0.5:
        return f"${r.randint(1, 99)}.{r.randint(0, 99):02d}"
    if kind < 0.7:
        return f"${r.randint(1, 2000):,}"
    if kind < 0.8:
        return f"€{r.randint(2, 500)}"
    if kind < 0.9:
        return f"£{r.randint(1, 90)}.{r.choice(['50', '99', '25', '05'])}"
    return f"${r.randint(1, 40)} million" if r.random() < 0.5 else f"{r.randint(5, 95)} cents"


def _time(r: random.Random) -> str:
    h, m = r.randint(1, 12), r.choice([0, 5, 10, 15, 20, 30, 40, 45, 50, r.randint(0, 59)])
    kind = r.random()
    if kind < 0.4:
        return f"{h}:{m:02d}"
    if kind < 0.7:
        return f"{h}:{m:02d} {r.choice(['a.m.', 'p.m.', 'AM', 'PM', 'am', 'pm'])}"
    if kind < 0.85:
        return f"{r.randint(0, 23):02d}:{m:02d}"
    return f"{h} {r.choice(['a.m.', 'p.m.', 'pm', 'am'])}"


def _date(r: random.Random) -> str:
    d, mo, y = r.randint(1, 28), r.randint(1, 12), r.randint(1990, 2031)
    kind = r.random()
    suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(d, "th")
    if kind < 0.3:
        return f"{MONTHS[mo - 1]} {d}{suffix}"
    if kind < 0.5:
        return f"{MONTHS[mo - 1]} {d}, {y}"
    if kind < 0.6:
        return f"{r.choice(MONTH_ABBR)} {d}"
    if kind < 0.75:
        return f"{mo}/{d}/{y}"
    if kind < 0.85:
        return f"{y}-{mo:02d}-{d:02d}"
    if kind < 0.93:
        return f"{r.choice(DAYS)}, {MONTHS[mo - 1]} {d}{suffix}"
    return f"the {d}{suffix} of {MONTHS[mo - 1]}"


def _address(r: random.Random) -> str:
    street = f"{r.randint(1, 9999)} {r.choice(STREETS)} {r.choice(STREET_KINDS)}"
    if r.random() < 0.3:
        street += f", Apt. {r.randint(1, 40)}{r.choice(['', 'B', 'C'])}"
    return street + (f" in {r.choice(CITIES)}" if r.random() < 0.5 else "")


def _quantity(r: random.Random) -> str:
    unit, lo, hi = r.choice(UNITS)
    value = r.randint(lo, hi)
    if r.random() < 0.3 and unit not in ("%", "minutes", "hours"):
        value = f"{value}.{r.randint(1, 9)}"
    return f"{value}{unit}" if unit in ("%", "°F", "°C") or r.random() < 0.5 else f"{value} {unit}"


def _number(r: random.Random) -> str:
    kind = r.random()
    if kind < 0.35:
        return str(r.randint(2, 99))
    if kind < 0.6:
        return str(r.randint(100, 9999))
    if kind < 0.75:
        return f"{r.randint(1000, 999999):,}"
    if kind < 0.9:
        n = r.randint(1, 31)
        return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd', 21: 'st', 22: 'nd', 23: 'rd', 31: 'st'}.get(n, 'th')}"
    return f"{r.randint(0, 99)}.{r.randint(1, 99)}"


def _phone(r: random.Random) -> str:
    return f"{r.randint(200, 989)}-{r.randint(200, 989)}-{r.randint(0, 9999):04d}" if r.random() < 0.6 \
        else f"({r.randint(200, 989)}) {r.randint(200, 989)}-{r.randint(0, 9999):04d}"


TEMPLATES = [
    "{greet}, {name}. Your appointment is at {time} on {date}.",
    "Your total comes to {money}. Would you like a receipt?",
    "The {place} is on level {small}, next to the {place2}.",
    "{greet}! How can I help you today?",
    "Your order of {count} {item}s will be ready at {time}.",
    "Please take a number and wait for {name} at the {place}.",
    "The next train to {city} leaves from platform {small} at {time}.",
    "We are open from {time} to {time2}, {day} through {day2}.",
    "Your package was delivered to {address} on {date}.",
    "It is currently {temp} outside, with winds of {speed}.",
    "That will be {money}, including tax.",
    "Is there anything else I can do for you, {name}?",
    "Call us at {phone} if you have any questions.",
    "The {item} costs {money} and weighs {qty}.",
    "Turn right at {address} and continue for {dist}.",
    "Did you know that the {place} closes early on {day}s?",
    "Your flight {flight} to {city} is delayed until {time}.",
    "{name} will see you in room {room} at {time}.",
    "I set a timer for {minutes} minutes.",
    "Your balance is {money}, and your next payment is due on {date}.",
    "The meeting with {name} has moved to {day} at {time}.",
    "Add {qty} of flour and {qty2} of sugar, then bake for {minutes} minutes.",
    "Your room is {room}; breakfast is served from {time} until {time2}.",
    "Please insert your card and enter your {acronym}.",
    "The battery is at {pct}, which is enough for about {hours} hours.",
    "Sorry, I didn't catch that. Could you say it again?",
    "Where would you like to go? I can give directions to the {place} or the {place2}.",
    "Ticket number {number}, please come to counter {small}.",
    "We found {count} results for {item} near {city}.",
    "The store at {address} has {count} in stock.",
    "Remember to bring your {acronym} and your boarding pass.",
    "Reminder: {name}'s birthday is on {date}.",
    "Why not try the {item}? It is only {money} today.",
    "Your reservation for {count} is confirmed for {date} at {time}.",
    "Traffic is light, so you should arrive in about {minutes} minutes.",
    "Shall I play some music while you wait?",
    "Welcome to {city}! The local time is {time}.",
    "The parking fee is {money} per hour, or {money2} for the whole day.",
    "Your prescription for {name} is ready at the {place}.",
    "Please keep your distance of at least {qty}.",
    "Press {small} for the {place}, or stay on the line for an operator.",
    "The museum was founded in {year} and has over {bignum} visitors a year.",
    "Checkout is at {time}. Would you like a late checkout for {money}?",
    "Do you want to pay {money} now, or split it into {small} payments?",
    "Our {acronym} desk is at {address}, open until {time}.",
    "The download is {pct} complete; about {minutes} minutes remain.",
    "{name} called at {time} and left a message.",
    "Your score is {number} out of {bignum}.",
    "Please remove your shoes, belt, and any metal items.",
    "The elevator is out of order. Please use the stairs on the {side} side.",
    "On {date}, the {place} will be closed for repairs.",
    "Your {item} has shipped! Track it with code {code}.",
    "Hold on, I'm checking the weather in {city}.",
    "Would you prefer a window seat or an aisle seat?",
    "That's {pct} off, so you save {money}.",
    "In {year}, {name} moved to {city}.",
    "The speed limit here is {speed}.",
    "You have {count} unread messages and {count2} missed calls.",
    "Take bus number {small} toward {city} and get off after {count} stops.",
    "Great job! You walked {dist} today.",
]


class KioskText:
    """Seeded generator of kiosk and assistant sentences from TEMPLATES."""

    def __init__(self, seed: int = 0):
        self.r = random.Random(seed)

    def sentence(self) -> str:
        r = self.r
        fill = {
            "greet": r.choice(GREETINGS), "name": _name(r), "time": _time(r), "time2": _time(r),
            "date": _date(r), "money": _money(r), "money2": _money(r),
            "place": r.choice(PLACES), "place2": r.choice(PLACES), "small": str(r.randint(1, 9)),
            "count": str(r.randint(2, 12)), "count2": str(r.randint(2, 30)), "item": r.choice(ITEMS),
            "city": r.choice(CITIES), "day": r.choice(DAYS), "day2": r.choice(DAYS),
            "address": _address(r), "temp": f"{r.randint(-5, 98)}°{r.choice('FC')}",
            "speed": f"{r.randint(5, 70)} {r.choice(['mph', 'km/h'])}", "phone": _phone(r),
            "qty": _quantity(r), "qty2": _quantity(r),
            "dist": f"{r.randint(1, 30)}{r.choice(['.5', '', ''])} {r.choice(['miles', 'km', 'kilometers'])}",
            "flight": f"{r.choice(['UA', 'BA', 'DL', 'AA', 'LH'])} {r.randint(10, 2999)}",
            "room": str(r.choice([r.randint(100, 999), r.randint(1, 40)])),
            "minutes": str(r.randint(2, 90)), "hours": str(r.randint(2, 14)),
            "acronym": r.choice(ACRONYMS), "pct": f"{r.randint(1, 99)}%", "number": _number(r),
            "bignum": f"{r.randint(1000, 2_000_000):,}", "year": str(r.randint(1890, 2030)),
            "side": r.choice(["left", "right", "north", "east"]),
            "code": f"{r.choice('ABCDEFGHJK')}{r.choice('XYZW')}{r.randint(1000, 99999)}",
        }
        # A template's full stop after "p.m." would double it.
        return re.sub(r"\.\.(?=\s|$)", ".", r.choice(TEMPLATES).format(**fill))


def benchmark_keys() -> set[str]:
    keys = set()
    for path in BENCHMARK_SENTENCES:
        keys |= {text_key(s) for s in path.read_text(encoding="utf-8").splitlines() if s.strip()}
    return keys


class TextPool:
    """Draws sentences by source weight; never a held-out or benchmark sentence, never more
    than MAX_WORDS words. `sources` maps a name to a list of sentences; the name `kiosk`
    (no list needed) means generated text."""

    def __init__(self, sources: dict[str, list[str]], weights: dict[str, float],
                 heldout: HeldOut | None = None, seed: int = 0):
        self.refused = benchmark_keys() | (heldout or HeldOut.load()).texts
        self.sources = {name: [s for s in dict.fromkeys(lines) if self.allowed(s)]
                        for name, lines in sources.items()}
        self.weights = {n: w for n, w in weights.items() if w > 0 and (n == "kiosk" or self.sources.get(n))}
        if not self.weights:
            raise ValueError("no text source left to draw from")
        self.seed = seed

    def allowed(self, s: str) -> bool:
        return 0 < len(s.split()) <= MAX_WORDS and text_key(s) not in self.refused \
            and bool(re.search(r"[A-Za-z]", s))

    def draw(self, index: int) -> tuple[str, str]:
        """(source, sentence) for utterance `index`: the same index always gives the same text."""
        r = random.Random(f"text-{self.seed}-{index}")
        names = list(self.weights)
        source = r.choices(names, weights=[self.weights[n] for n in names])[0]
        if source == "kiosk":
            kiosk = KioskText(r.getrandbits(64))
            for _ in range(20):
                s = kiosk.sentence()
                if self.allowed(s):
                    return source, s
            raise RuntimeError("kiosk generator keeps drawing refused sentences")
        return source, r.choice(self.sources[source])
