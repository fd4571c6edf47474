"""What clustering remembers about one item: a MinHash signature and its weighted terms.

A ``Fingerprint`` is computed once per item, persisted by the store as JSON
(``to_json``/``from_json``) and handed to ``StoryIndex`` whenever the index is
filled again. Everything in it is deterministic: shingles are hashed with keyed
BLAKE2b rather than Python's per-process randomized ``hash()``, so the same
title and text give the same fingerprint in every process, on every machine,
before and after a restart.

Two parts, for two questions:

- ``minhash`` answers "is this the same text?" (syndicated copies, light
  edits). It is a one-permutation MinHash (Li, Owen and Zhang, "One Permutation
  Hashing", NIPS 2012) over four-word shingles, densified by rotation
  (Shrivastava and Li, ICML 2014) so that short texts fill every bin. One hash
  per shingle instead of one per shingle per permutation keeps it linear in
  the text's length, which matters in pure Python.
- ``terms`` answers "is this about the same event?" when the wording differs.
  It keeps the ``MAX_TERMS`` heaviest terms: folded, stemmed words minus
  stopwords, with a sublinear term frequency, weighted up when they read as
  names (capitalized in the middle of a sentence) and when they are in the
  title. Document frequencies are not known here; ``StoryIndex`` applies them.
  Among them are *entity terms* (``@country:KP``, ``@place:CN:Beijing``,
  ``@leader:KP:KIM Jong Un``): the shipped world-knowledge spellings found in
  the item, one id per entity whatever the script, weighted up by
  ``ENTITY_BOOST``. They are what a Japanese or Korean write-up shares with an
  English one of the same event (issue #20).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass

from watcher.knowledge import entity_spellings
from watcher.match.stem import stem_token
from watcher.match.text import Tokens, is_cjk, tokenize

# 2: Snowball Porter2 stems replaced the hand-written Porter ones, and entity
# terms joined the weighted terms (issue #20).
FINGERPRINT_VERSION = 2
ENTITY_BOOST = 2.0
# Character bigrams of Han, Kana and Hangul text weigh this much of a word: there
# are many per sentence, and most say little about the event.
CJK_WEIGHT = 0.3
# Longest spelling looked up, in tokens (a CJK character is a token).
MAX_ENTITY_TOKENS = 10
SHINGLE_WORDS = 4
MINHASH_BINS = 64
MAX_TERMS = 50
# A term capitalized mid-sentence in at least this share of its uses is a name.
NAME_SHARE = 0.5
NAME_BOOST = 1.25
TITLE_BOOST = 2.0
# The first LEAD_WORDS words of the text count LEAD_BOOST times.
LEAD_WORDS = 100
LEAD_BOOST = 1.5

# A fixed key makes the shingle hashes a fixed, documented function: changing it
# (or anything else above) changes every fingerprint, so bump FINGERPRINT_VERSION.
_HASH_KEY = b"watcher.cluster.v1"
_BIN_BITS = 6  # log2(MINHASH_BINS)
_VALUE_BITS = 52
_VALUE_MASK = (1 << _VALUE_BITS) - 1
_SENTENCE_BREAKS = frozenset(".!?:;\n\r\"'“”‘’«»()[]-–—•|")

# Function words, plus the verbs and nouns of news prose itself ("said",
# "reported"), which every article has whatever it is about.
_STOPWORD_LIST = """
    a about above after again against ago all almost also although am among an and another
    any are around as at be became because been before being below between both but by can
    cannot could did do does doing done down during each either else even ever every few
    for from further had has have having he her here hers herself him himself his how
    however i if in into is it its itself just least less like made make many may me
    might more most much must my myself near neither no nor not now of off often on once
    one only or other others our ours ourselves out over own per rather same say says said
    saying she should since so some still such than that the their theirs them themselves
    then there these they this those though through thus to too toward towards under
    until up upon us very via was we were what when where whether which while who whom
    whose why will with within without would yet you your yours yourself
    according added adding announced article asked comment comments copyright cookie
    cookies daily editor exclusive explained follow full get getting go going got image
    images information just know known latest late later likely live more new news
    newsletter old page photo photos post posted privacy read reading report reported
    reporter reporters reporting reports right rights share sign source sources
    statement subscribe take taken told update updated video week weekly well went year
    years yesterday today tomorrow
"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """An item's MinHash signature and its top weighted terms (heaviest first).

    ``minhash`` is empty for an item without words; such an item is never
    anyone's near-duplicate.
    """

    minhash: tuple[int, ...]
    terms: tuple[tuple[str, float], ...]

    def to_json(self) -> str:
        """A compact JSON text that ``from_json`` reads back to an equal fingerprint."""
        return json.dumps(
            {"v": FINGERPRINT_VERSION, "minhash": list(self.minhash), "terms": self.terms},
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Fingerprint:
        """Read ``to_json``'s output.

        Raises ``ValueError`` when ``text`` is not a fingerprint of this version
        (the caller should fingerprint the item again).
        """
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"fingerprint is not JSON: {exc}") from exc
        if not isinstance(loaded, dict) or loaded.get("v") != FINGERPRINT_VERSION:
            raise ValueError(f"fingerprint is not version {FINGERPRINT_VERSION}")
        minhash = loaded.get("minhash")
        terms = loaded.get("terms")
        if not isinstance(minhash, list) or not all(type(value) is int for value in minhash):
            raise ValueError("fingerprint minhash must be a list of integers")
        if len(minhash) not in (0, MINHASH_BINS):
            raise ValueError(f"fingerprint minhash must have 0 or {MINHASH_BINS} values")
        if not isinstance(terms, list) or not all(
            isinstance(pair, list)
            and len(pair) == 2
            and isinstance(pair[0], str)
            and isinstance(pair[1], int | float)
            for pair in terms
        ):
            raise ValueError("fingerprint terms must be a list of [term, weight] pairs")
        return cls(
            minhash=tuple(minhash),
            terms=tuple((term, float(weight)) for term, weight in terms),
        )


# Below this many words a text is a teaser, not a body (see ``fingerprint``).
MIN_BODY_WORDS = 40
# Only the first this many tokens of the title and of the text are fingerprinted:
# a long article has a few thousand, and an item of megabytes (a hostile feed's
# 5 MB title, issue #16) must cost no more time and memory than a long article.
MAX_TOKENS = 20_000


def fingerprint(title: str, text: str) -> Fingerprint:
    """Fingerprint an item from its title and its plain text (either may be empty)."""
    title_tokens = tokenize(title, limit=MAX_TOKENS)
    text_tokens = tokenize(text, limit=MAX_TOKENS)
    # Copies of one text often carry different headlines: the text alone says
    # whether it is the same text, but only when it is a real body. A short text
    # is often a feed's fixed teaser ("Read the full story at …") shared by every
    # item, and must not make them all copies of each other: the title decides.
    shingled = (
        text_tokens.words
        if len(text_tokens) >= MIN_BODY_WORDS
        else title_tokens.words + text_tokens.words
    )
    return Fingerprint(
        minhash=_minhash(shingled),
        terms=_weighted_terms(title_tokens, text, text_tokens),
    )


def estimated_jaccard(first: tuple[int, ...], second: tuple[int, ...]) -> float:
    """The share of equal MinHash bins: an estimate of the two shingle sets' Jaccard index."""
    if not first or len(first) != len(second):
        return 0.0
    return sum(a == b for a, b in zip(first, second, strict=True)) / len(first)


def _shingle_hash(shingle: str) -> int:
    digest = hashlib.blake2b(shingle.encode(), digest_size=8, key=_HASH_KEY).digest()
    return int.from_bytes(digest, "little")


def _minhash(words: list[str]) -> tuple[int, ...]:
    if not words:
        return ()
    width = min(SHINGLE_WORDS, len(words))
    bins: list[int | None] = [None] * MINHASH_BINS
    for start in range(len(words) - width + 1):
        hashed = _shingle_hash(" ".join(words[start : start + width]))
        slot = hashed & (MINHASH_BINS - 1)
        shingle_value = (hashed >> _BIN_BITS) & _VALUE_MASK
        current = bins[slot]
        if current is None or shingle_value < current:
            bins[slot] = shingle_value
    # Rotation densification: an empty bin takes the value of the next filled bin
    # to its right, tagged with the distance so that borrowed values only match
    # values borrowed from the same distance.
    filled: list[int] = []
    for slot in range(MINHASH_BINS):
        distance = 0
        while (borrowed := bins[(slot + distance) % MINHASH_BINS]) is None:
            distance += 1
        filled.append(borrowed | (distance << _VALUE_BITS))
    return tuple(filled)


def _starts_sentence(text: str, start: int) -> bool:
    position = start - 1
    while position >= 0 and text[position] in " \t":
        position -= 1
    return position < 0 or text[position] in _SENTENCE_BREAKS


def _term(token: str) -> str | None:
    if token in STOPWORDS or (len(token) < 2 and not is_cjk(token)):
        return None
    return stem_token(token) or token


def _term_at(tokens: Tokens, number: int) -> str | None:
    """The term of token ``number``: a Han, Kana or Hangul character pairs with the
    next one (a bigram: "北京", not "北" and "京", and no lone particles "の", "이")."""
    token = tokens.words[number]
    if not is_cjk(token):
        return _term(token)
    if number + 1 >= len(tokens) or tokens.position(number + 1) != tokens.position(number) + 1:
        return None
    following = tokens.words[number + 1]
    if not is_cjk(following):
        return None
    return token + following


def _entities(tokens: Tokens) -> list[tuple[int, str]]:
    """(token number, entity id) of each known spelling in ``tokens``, longest first."""
    spellings = entity_spellings()
    words = tokens.words
    found: list[tuple[int, str]] = []
    position = 0
    while position < len(words):
        for length in range(min(MAX_ENTITY_TOKENS, len(words) - position), 0, -1):
            entity = spellings.get(tuple(words[position : position + length]))
            if entity is not None:
                found.append((position, entity))
                position += length
                break
        else:
            position += 1
    return found


def _weighted_terms(
    title_tokens: Tokens, text: str, text_tokens: Tokens
) -> tuple[tuple[str, float], ...]:
    counts: dict[str, float] = {}
    uses: Counter[str] = Counter()
    capitalized: Counter[str] = Counter()
    for position, start in enumerate(text_tokens.starts):
        term = _term_at(text_tokens, position)
        if term is None:
            continue
        uses[term] += 1
        # News puts the event in the lead; page furniture (related links,
        # footers) tends to come after it.
        counts[term] = counts.get(term, 0.0) + (LEAD_BOOST if position < LEAD_WORDS else 1.0)
        if text[start].isupper() and not _starts_sentence(text, start):
            capitalized[term] += 1
    in_title = {
        term
        for position in range(len(title_tokens))
        if (term := _term_at(title_tokens, position)) is not None
    }
    for position, entity in _entities(text_tokens):
        uses[entity] += 1
        counts[entity] = counts.get(entity, 0.0) + (LEAD_BOOST if position < LEAD_WORDS else 1.0)
    title_entities = {entity for _, entity in _entities(title_tokens)}
    in_title |= title_entities
    weights: dict[str, float] = {}
    for term in counts.keys() | in_title:
        weight = 1.0 + math.log(max(counts.get(term, 0.0), 1.0))
        if term in in_title:
            weight *= TITLE_BOOST
        if term.startswith("@"):
            weight *= ENTITY_BOOST
        elif is_cjk(term):
            weight *= CJK_WEIGHT
        elif uses[term] and capitalized[term] >= NAME_SHARE * uses[term]:
            weight *= NAME_BOOST
        # Rounded so that the JSON form is short and reads back to equal floats.
        weights[term] = round(weight, 4)
    heaviest = sorted(weights.items(), key=lambda pair: (-pair[1], pair[0]))
    return tuple(heaviest[:MAX_TERMS])
