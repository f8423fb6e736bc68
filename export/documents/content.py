"""Random but plausible words for pages: names, addresses, items, sentences (all seeded)."""

from __future__ import annotations

import numpy as np

FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Elena", "Felix", "Grace", "Hugo", "Iris", "Jonas", "Karin",
    "Liam", "Maria", "Noah", "Olga", "Paul", "Rosa", "Simon", "Tara", "Victor", "Wendy", "Yusuf",
)
LAST_NAMES = (
    "Adams", "Becker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ivanova",
    "Jensen", "Kowalski", "Lambert", "Moreau", "Novak", "Okafor", "Peters", "Rossi", "Schmidt",
    "Tanaka", "Urban", "Vogel", "Weber", "Young", "Zimmer",
)
STREETS = ("Oak Street", "Mill Road", "High Street", "Park Avenue", "Station Road", "Elm Lane")
CITIES = ("Springfield", "Riverton", "Lakeside", "Fairview", "Greenville", "Bristol", "Hamburg")
COMPANIES = (
    "Acme Supplies", "Northwind Traders", "Bluebird Logistics", "Summit Office", "Orion Foods",
    "Harbor Tools", "Cedar Print", "Vertex Energy", "Maple Insurance", "Atlas Hardware",
)
ITEMS = (
    "Paper A4 500 sheets", "Toner cartridge", "Desk lamp", "USB cable", "Stapler", "Coffee beans",
    "Printer service", "Consulting hours", "Shipping", "Notebook", "Chair repair", "Monitor 24in",
    "Ink pens (box)", "Cleaning service", "Software licence", "Folder set",
)
WORDS = (
    "the", "of", "and", "to", "in", "we", "your", "request", "account", "payment", "please",
    "office", "contract", "service", "date", "following", "information", "attached", "review",
    "period", "annual", "report", "customer", "results", "project", "team", "delivery", "order",
    "thank", "for", "with", "our", "this", "will", "be", "has", "been", "as", "agreed", "meeting",
    "policy", "update", "quarter", "growth", "budget", "terms", "conditions", "invoice", "due",
)
FORM_FIELDS = (
    "Full name", "Date of birth", "Address", "City", "Phone", "Email", "Occupation", "Employer",
    "Nationality", "Passport no.", "Account no.", "Reference",
)
FORM_TITLES = (
    "Application for Membership", "Loan Application Form", "Visa Application", "Job Application",
    "Insurance Claim Form", "Rental Application", "Account Opening Form", "Permit Application",
)
CHECKBOX_OPTIONS = (
    "Yes", "No", "Married", "Single", "Full time", "Part time", "Email me", "Post", "I agree",
    "Student", "Employed", "Retired", "Owner", "Tenant", "Urgent", "Standard",
)
REPORT_TITLES = (
    "Quarterly Report", "Project Status", "Meeting Minutes", "Sales Summary", "Inventory List",
    "Technical Note", "Survey Results", "Annual Review",
)


def pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def person_name(rng: np.random.Generator) -> str:
    return f"{pick(rng, FIRST_NAMES)} {pick(rng, LAST_NAMES)}"


def street_address(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(1, 200))} {pick(rng, STREETS)}"


def city_line(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(10000, 99999))} {pick(rng, CITIES)}"


def date_text(rng: np.random.Generator) -> str:
    day, month = int(rng.integers(1, 29)), int(rng.integers(1, 13))
    return f"{day:02d}/{month:02d}/{int(rng.integers(2015, 2027))}"


def sentence(rng: np.random.Generator, words: int) -> str:
    text = " ".join(pick(rng, WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def money(rng: np.random.Generator, low: float = 1.0, high: float = 900.0) -> float:
    return round(float(rng.uniform(low, high)), 2)
