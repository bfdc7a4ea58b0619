"""Is a path segment a plural noun? A small English heuristic, not a dictionary.

Collections read best as plural nouns (``/customers``, ``/invoices/{id}``): low-code
tools name the generated actions and tables after them. The check looks at the last
word of a segment (``sales-orders`` → ``orders``, ``lineItems`` → ``items``) and
accepts it when it ends in ``s`` — except endings that are usually singular (``status``,
``address``, ``analysis``) — or when it is an irregular plural or a word English does
not count (``people``, ``data``, ``inventory``). It can be wrong both ways on unusual
words; that is why its rule only warns.
"""

from __future__ import annotations

import re

# Irregular plurals, and nouns that name a collection without a plural form.
_PLURAL_WORDS = frozenset(
    {
        "people", "children", "men", "women", "feet", "teeth", "mice", "geese",
        "data", "metadata", "criteria", "phenomena", "media", "alumni", "cacti", "fungi",
        "series", "species", "news", "sheep", "fish", "deer", "aircraft", "staff",
        "equipment", "inventory", "stock", "information", "feedback", "software",
        "hardware", "mail", "personnel", "analytics", "insights",
    }
)  # fmt: skip
# Words ending in s that are singular: -ss (address), -us (status), -is (analysis), and a
# few others that are common in APIs.
_SINGULAR_ENDINGS = ("ss", "us", "is")
_SINGULAR_WORDS = frozenset({"gas", "alias", "canvas", "atlas", "lens"})
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def last_word(segment: str) -> str | None:
    """The last alphabetic word of a segment, lower case: camelCase, kebab-case and
    snake_case all split; digits are not words (``customer_360`` → ``customer``)."""
    words = _WORD.findall(segment)
    return words[-1].lower() if words else None


def is_plural(segment: str) -> bool:
    word = last_word(segment)
    if word is None:
        return True  # nothing to judge: not this check's business
    if word in _PLURAL_WORDS:
        return True
    if word in _SINGULAR_WORDS or word.endswith(_SINGULAR_ENDINGS):
        return False
    return word.endswith("s")


def plural_of(word: str) -> str:
    """A likely plural, for the remediation text only."""
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    return word + "s"
