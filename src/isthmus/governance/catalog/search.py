"""Full-text search over catalog entries, with filters and facet counts.

The text is ranked by BM25 in Tantivy (an in-memory index built once per store revision,
see :mod:`isthmus.governance.catalog.cache`). Text is folded before Tantivy sees it:
accents dropped (NFKD), case folded, split into words at anything that is not a letter
or digit — so "Café", "cafe" and "CAFÉ" are one word, and ``customer_360`` is two.

A query matches an entry when each of its words is found in one of the entry's fields
(name, title, tags, owner, description, docs); a hit in the name weighs most, one in the
docs least. The last word also matches as a prefix, so typing "cust" already finds
``customers``; every entry with such a word matches, however many words share the prefix.
An entry whose name is exactly the query (word for word) comes first.
There is no stemming: names and technical words are matched as written.

Filters (kind, owner, system, lifecycle, tag) take several values each: an entry passes
when it has one of them, for every filter given. Facets count the entries per value of
each filter, with the text and the *other* filters applied — what the portal's sidebar
shows next to each choice.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import tantivy

from isthmus.governance.catalog.entries import CATALOGUED, Entry

# Field → weight: a word in the name says most about what an entry is.
FIELDS: dict[str, float] = {
    "name": 6.0,
    "title": 4.0,
    "tags": 3.0,
    "owner": 2.0,
    "description": 1.5,
    "docs": 1.0,
}
PREFIX_WEIGHT = 0.8  # a completed word ranks just below the same word typed out
# Up to this many completions of a prefix in a field are scored word by word (BM25, like
# words typed out); a prefix that stands for more (one or two letters in a big catalog)
# matches them all through one regex query whose hits score the field's weight alone.
# Expanding every word instead took seconds for "a" over 100,000 words; cutting the list
# short, as before, silently lost matches.
PREFIX_SCORED = 200
FACETS = ("kind", "owner", "system", "lifecycle", "tag")
_ANY_CASE = ("kind", "lifecycle")
_WORD = re.compile(r"[^\W_]+")
_HEAP = 15_000_000  # Tantivy's smallest writer heap; the index itself is far smaller
_Vocabulary = dict[str, list[str]]  # field -> its distinct words, sorted


def words(text: str) -> list[str]:
    """The words of ``text`` as the index holds them: accents dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(plain.casefold())


@dataclass(frozen=True)
class Filters:
    """Accepted values per facet; an empty collection accepts anything."""

    kind: Collection[str] = ()
    owner: Collection[str] = ()
    system: Collection[str] = ()
    lifecycle: Collection[str] = ()
    tag: Collection[str] = ()

    def wanted(self) -> dict[str, frozenset[str]]:
        """The filters given, each as the set of values matched against (see ``_key``)."""
        chosen = {facet: getattr(self, facet) for facet in FACETS}
        return {f: frozenset(_key(f, v) for v in given) for f, given in chosen.items() if given}

    def passes(self, entry: Entry) -> bool:
        return not _failing(self.wanted(), _keys(entry))


def _key(facet: str, value: str) -> str:
    # kinds and lifecycles are words of ours: 'api' means Api
    return value.casefold() if facet in _ANY_CASE else value


def _keys(entry: Entry) -> dict[str, frozenset[str]]:
    return {f: frozenset(_key(f, v) for v in values(entry, f)) for f in FACETS}


def _failing(wanted: dict[str, frozenset[str]], keys: dict[str, frozenset[str]]) -> set[str]:
    """The filters an entry does not pass."""
    return {facet for facet, accepted in wanted.items() if accepted.isdisjoint(keys[facet])}


def values(entry: Entry, facet: str) -> list[str]:
    """The entry's values for a facet (an entry can touch many Systems, have many tags)."""
    if facet == "system":
        return list(entry.systems)
    if facet == "tag":
        return list(entry.tags)
    value = getattr(entry, facet)
    return [value] if value else []


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    exact: bool = False


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


class Catalog:
    """The entries of one store revision, indexed for search."""

    def __init__(self, entries: Iterable[Entry], revision: int | None = None) -> None:
        self.revision = revision
        self.entries: list[Entry] = list(entries)
        self._by_ref = {(e.kind.casefold(), e.name): e for e in self.entries}
        self._name_words = [words(e.name) for e in self.entries]
        self._keys = [_keys(e) for e in self.entries]
        self._index, self._schema, self._vocabulary = _build(self.entries)

    def get(self, kind: str, name: str) -> Entry | None:
        """One entry; ``kind`` in any case (``api`` or ``Api``)."""
        return self._by_ref.get((kind.casefold(), name))

    def search(
        self,
        query: str = "",
        filters: Filters | None = None,
        *,
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResult:
        """Entries matching ``query`` and ``filters``, best first (without a query: by kind,
        then name), ``limit`` of them from ``offset``; facets count all of them."""
        wanted = (filters or Filters()).wanted()
        passing: list[Hit] = []
        counted: dict[str, Counter[str]] = {facet: Counter() for facet in FACETS}
        for position, hit in self._matching(query):
            failing = _failing(wanted, self._keys[position])
            # a facet counts the entries that pass the other filters: every facet counts
            # an entry that passes all, only its own facet one that fails just that one
            if not failing:
                passing.append(hit)
                counts_in: Iterable[str] = FACETS
            elif len(failing) == 1:
                counts_in = failing
            else:
                continue
            for facet in counts_in:
                counted[facet].update(values(hit.entry, facet))
        facets = {
            facet: dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
            for facet, counts in counted.items()
        }
        return SearchResult(len(passing), passing[offset : offset + limit], facets)

    def _matching(self, query: str) -> list[tuple[int, Hit]]:
        """Positions and hits of the entries matching the text, best first."""
        terms = words(query)
        order = {kind: index for index, kind in enumerate(CATALOGUED)}
        if not terms:
            return [(at, Hit(entry, 0.0)) for at, entry in enumerate(self.entries)]
        searcher = self._index.searcher()
        found = searcher.search(
            _query(self._schema, self._vocabulary, terms), limit=max(1, searcher.num_docs)
        )
        # One writer thread and one commit make one segment whose documents are numbered
        # as added: the entry's position, without reading the stored field back.
        one_segment = searcher.num_segments == 1
        hits: list[tuple[int, Hit]] = []
        for score, address in found.hits:
            at = int(address.doc if one_segment else searcher.doc(address)["ord"][0])
            exact = self._name_words[at] == terms
            hits.append((at, Hit(self.entries[at], float(score), exact=exact)))

        def rank(found: tuple[int, Hit]) -> tuple[bool, float, int, str]:
            hit = found[1]
            return (not hit.exact, -hit.score, order.get(hit.entry.kind, 99), hit.entry.name)

        return sorted(hits, key=rank)


def _text(entry: Entry) -> dict[str, str]:
    return {
        "name": entry.name,
        "title": entry.title or "",
        "tags": " ".join(entry.tags),
        "owner": entry.owner or "",
        "description": entry.description or "",
        "docs": entry.docs or "",
    }


def _build(entries: Sequence[Entry]) -> tuple[tantivy.Index, tantivy.Schema, _Vocabulary]:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("ord", stored=True)
    for name in FIELDS:
        # Words arrive folded and space-separated: the whitespace tokenizer keeps them so.
        builder.add_text_field(name, stored=False, tokenizer_name="whitespace")
    schema = builder.build()
    index = tantivy.Index(schema)
    writer = index.writer(heap_size=_HEAP, num_threads=1)
    vocabulary: dict[str, set[str]] = {name: set() for name in FIELDS}
    for position, entry in enumerate(entries):
        document = tantivy.Document()
        document.add_unsigned("ord", position)
        for name, text in _text(entry).items():
            found = words(text)
            vocabulary[name].update(found)
            document.add_text(name, " ".join(found))
        writer.add_document(document)
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index, schema, {name: sorted(found) for name, found in vocabulary.items()}


def completions(vocabulary: Sequence[str], prefix: str) -> Sequence[str]:
    """The words of a sorted ``vocabulary`` that start with ``prefix`` and are longer:
    a slice, found by bisection (the words starting with it sort together, right at or
    after it)."""
    start = bisect_right(vocabulary, prefix)
    end = bisect_left(vocabulary, True, lo=start, key=lambda word: not word.startswith(prefix))
    return vocabulary[start:end]


def _query(schema: tantivy.Schema, vocabulary: _Vocabulary, terms: list[str]) -> tantivy.Query:
    """Every word must match in some field; the last word also as a prefix."""
    must = []
    for position, term in enumerate(terms):
        should = []
        for name, weight in FIELDS.items():
            should.append(_boosted(tantivy.Query.term_query(schema, name, term), weight))
            if position == len(terms) - 1:
                should.extend(_prefix(schema, name, term, vocabulary[name], weight))
        any_field = tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in should])
        must.append((tantivy.Occur.Must, any_field))
    return tantivy.Query.boolean_query(must)


def _prefix(
    schema: tantivy.Schema, field: str, term: str, vocabulary: Sequence[str], weight: float
) -> list[tantivy.Query]:
    """Queries matching the words of ``field`` that ``term`` is the start of."""
    longer = completions(vocabulary, term)
    boost = weight * PREFIX_WEIGHT
    if len(longer) <= PREFIX_SCORED:
        return [_boosted(tantivy.Query.term_query(schema, field, w), boost) for w in longer]
    # A word holds letters and digits only (see words): nothing in it is a regex operator.
    everything = tantivy.Query.regex_query(schema, field, f"{term}.+")
    return [_boosted(everything, boost)]


def _boosted(query: tantivy.Query, weight: float) -> tantivy.Query:
    return tantivy.Query.boost_query(query, weight)
