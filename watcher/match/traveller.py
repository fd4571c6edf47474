"""Who travels: a leader written as host or sender, or whose relative or staff go.

ABROAD (:mod:`watcher.match.abroad`) pairs a leader with the nearest place; these
rules drop the leader's span when the sentence makes someone else the traveller:

- the **host** ("Kim received Shoigu", "welcomed by Macron"): :func:`is_host`;
- a country qualifier that qualifies another office first ("Chinese foreign
  minister meets French president"): :func:`qualifies_another_office`;
- a leader's one-word name beside another capitalised name that is no list
  term ("Martin Hayes", "Paolo Meloni"): a namesake, :func:`is_namesake`;
- a leader after a noun of what they decide or say and "of" ("memories of Donald
  Trump", "la décision de Donald Trump"): :func:`is_spoken_of_leader`;
- a one-word name in lower case, a word ("drew criticism"): :func:`is_lower_case_name`;
- the one who **sends** the traveller ("a message from Putin", "on behalf of Xi",
  "Putin's envoy", "Trump envoy Witkoff"), or whose relative travels ("King
  Charles's son", in a headline "Sohn von Präsident Lula"): :func:`is_sender`.

The words are vocabulary of the topic languages, not world facts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache

from watcher.knowledge import leader_name_words
from watcher.match.fold import fold
from watcher.match.press import field_positions, number_at, text_between, token_at, written_at
from watcher.match.spoken_of import OF_NOUN, OPINION_NOUNS, TOPIC_AFTER
from watcher.match.text import FieldText
from watcher.match.window import HitSpan, PlacedSpan

HEADLINE = "title"
SUMMARY = "summary"

# Verbs whose subject hosts a visitor, in the active voice, as the folded token
# right after the leader's name ("Xi hosts Putin", "Scholz empfängt Modi"), and
# the phrases that end right before the name in the passive ("received by Kim",
# "reçu par Macron", "von Scholz empfangen" is covered by "von" + the verb after).
# Chosen from ordinary dictionary forms of "receive / host / welcome / greet" in
# the topic languages (English, French, German, Spanish, Russian); the CJK verbs
# are the ones news agencies use for a host receiving a guest (接见/会见 in
# Chinese, 접견 in Korean, 出迎え in Japanese).
HOST_VERBS = frozenset(
    {
        "receives", "received", "receiving", "hosts", "hosted", "hosting",
        "welcomes", "welcomed", "welcoming", "greets", "greeted", "greeting",
        "recoit", "accueille", "accueillait", "empfangt", "empfing", "begrusst",
        "begrusste", "recibe", "recibio", "acoge", "acogio", "принял", "принимает",
        "принимал",
    }
)  # fmt: skip
_HOST_BEFORE = frozenset(
    {
        ("received", "by"), ("hosted", "by"), ("welcomed", "by"), ("greeted", "by"),
        ("recu", "par"), ("accueilli", "par"), ("recue", "par"), ("accueillie", "par"),
        ("recibido", "por"), ("recibida", "por"), ("acogido", "por"),
    }
)  # fmt: skip
# After the verb: a passive's agent ("welcomed by"), a headline's passive that
# drops "was" and says where or how ("Naruhito greeted at Horse Guards Parade",
# "Modi welcomed with a gun salute"; English only: French and Spanish put the
# place before the guest, "Macron reçoit à l'Élysée ..."), or the object that
# makes "принял" mean "took" ("принял участие": took part), not "received".
_NOT_HOSTING_NEXT = frozenset(
    {"by", "at", "in", "on", "upon", "with", "par", "por", "von", "участие"}
)
_HOST_CJK = ("接见", "会见", "會見", "접견", "出迎え")
_CJK_HOST_REACH = 6


def is_host(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the leader at ``span`` is written as hosting someone, not travelling."""
    tokens = field.tokens
    after = token_at(tokens, span.last + 1)
    # "Modi welcomed by Macron": the same verb in the passive makes Modi the guest.
    if after in HOST_VERBS and token_at(tokens, span.last + 2) not in _NOT_HOSTING_NEXT:
        return True
    before = (token_at(tokens, span.first - 2), token_at(tokens, span.first - 1))
    if before in _HOST_BEFORE:
        return True
    # CJK tokens are single characters: a hosting verb within the next few
    # ("习近平在北京会见普京": Xi, at Beijing, receives Putin).
    following = "".join(
        token_at(tokens, span.last + offset) for offset in range(1, _CJK_HOST_REACH + 1)
    )
    return any(verb in following for verb in _HOST_CJK)


# Nouns of kinship: after a leader's possessive ("King Charles's son") the relative
# is the one who travels. Not before the leader: "the daughter of North Korea's
# leader" is as often beside her father on his trip.
_KIN = frozenset(
    {
        "son", "daughter", "wife", "husband", "brother", "sister", "heir", "widow",
        "nephew", "niece", "grandson", "granddaughter",
    }
)  # fmt: skip
# Words that, within a few words before a leader's name (titles between), make the
# leader the one who sends someone, not the one who goes: "a message from
# President Putin", "on behalf of Xi", "la part du président", "im Auftrag von",
# "en nombre del presidente", "послание Путина". Ordinary dictionary words of the
# topic languages.
_SENDER_BEFORE = frozenset(
    {
        "behalf", "message", "letter", "envoy", "emissary", "part", "lettre", "envoye",
        "emissaire", "auftrag", "botschaft", "brief", "gesandter", "sondergesandter",
        "nombre", "mensaje", "carta", "enviado", "послание", "письмо", "поручению",
        "посланник", "спецпосланник", "посланника", "спецпосланника", "посланником",
        "спецпосланником", "представитель", "представителя", "спецпредставитель",
        "спецпредставителя",
    }
)  # fmt: skip
_SENDER_REACH = 4
# In a headline, a noun of kinship followed by "of" a few words before a leader's
# name: the relative travels ("Sohn von Präsident Lula reist nach ...", "the
# daughter of President X arrives in ..."). Russian puts the leader in the
# genitive right after the noun ("сын президента"), so there the noun alone is
# enough. Not in the summary: "the daughter of North Korea's leader ... behind her
# father" is as often beside him on his trip.
_KIN_OF = _KIN | {
    "sohn", "tochter", "ehefrau", "ehemann", "bruder", "schwester", "fils", "fille",
    "epouse", "epoux", "frere", "soeur", "hijo", "hija", "esposa", "esposo", "hermano",
    "hermana",
}  # fmt: skip
_OF = frozenset({"of", "von", "des", "der", "de", "du", "del", "d"})
_KIN_GENITIVE = frozenset({"сын", "дочь", "жена", "муж", "брат", "сестра", "вдова"})
# After "Putin's" (tokens "putin", "s"): the leader's staff travel, not the leader.
_STAFF_AFTER = frozenset(
    {
        "envoy", "envoys", "emissary", "aide", "aides", "adviser", "advisers", "advisor",
        "advisors", "spokesman", "spokeswoman", "spokesperson", "representative",
        "minister", "message", "letter", "delegation", "officials", "chief", "secretary",
        "diplomat", "negotiator", "deputy",
    }
    | _KIN
)  # fmt: skip
# How many words after a leader's possessive a word of staff is looked for (a
# word or two of office between: "Trump's Pentagon chief", "Modi's security adviser").
_STAFF_REACH = 3
# Verbs of sending right after the leader ("Xi sends Wang Yi", "Macron envoie",
# "Scholz schickt", "Putin entsendet"): ordinary dictionary forms.
_SENDS = frozenset(
    {
        "sends", "sent", "dispatches", "dispatched", "envoie", "envoye", "depeche",
        "schickt", "schickte", "entsendet", "entsandte", "envia", "envio", "направил",
        "отправил", "направляет", "отправляет",
    }
)  # fmt: skip


def is_lower_case_name(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the leader's one-word name at ``span`` is a Factbook name written in
    lower case: a word of the text ("her outfit drew criticism": Terrance Drew)."""
    if span.first != span.last:
        return False
    word = written_at(field, span.first)
    return word[:1].islower() and word.isascii() and word.casefold() in _own_name_words()


# Right after a leader in Chinese, Japanese and Korean: a possessive and a noun of
# kinship make the relative the subject ("天皇陛下の長女愛子さま", "普京的女儿",
# "대통령의 딸"); CJK tokens are single characters, Hangul words whole.
_CJK_KIN_AFTER = (
    "の長女", "の次女", "の長男", "の次男", "の娘", "の息子", "の妻", "の夫人", "の孫", "の弟",
    "の妹", "の兄", "の姉", "的女儿", "的儿子", "的妻子", "的夫人", "之女", "之子", "夫人",
)  # fmt: skip
_HANGUL_KIN_AFTER = frozenset({"딸", "아들", "부인", "여동생", "동생", "손녀", "손자"})
# At most an honorific or a title of two characters between ("天皇陛下の長女").
_CJK_KIN_SKIP = 2
# An envoy after the leader and a title of up to four characters ("习近平主席特使",
# "習近平国家主席の特使", "시진핑 주석 특사"): the envoy travels.
_CJK_ENVOY_AFTER = ("特使", "使者")
_HANGUL_ENVOY = "특사"
_CJK_ENVOY_SKIP = 5
_CJK_AFTER_REACH = _CJK_ENVOY_SKIP + 3


def _kin_after(span: PlacedSpan, field: FieldText) -> bool:
    """Whether a CJK possessive and a noun of kinship, or a word of an envoy, follow
    the leader's name."""
    tokens = field.tokens
    if token_at(tokens, span.last + 1).isascii():
        return False  # nothing, or a Latin word: not these languages
    following = "".join(
        token_at(tokens, span.last + offset) for offset in range(1, _CJK_AFTER_REACH + 1)
    )
    if any(0 <= following.find(kin) <= _CJK_KIN_SKIP for kin in _CJK_KIN_AFTER):
        return True
    if any(0 <= following.find(envoy) <= _CJK_ENVOY_SKIP for envoy in _CJK_ENVOY_AFTER):
        return True
    word = token_at(tokens, span.last + 1)
    if word.startswith(_HANGUL_ENVOY) or token_at(tokens, span.last + 2).startswith(_HANGUL_ENVOY):
        return True
    return word.endswith("의") and token_at(tokens, span.last + 2) in _HANGUL_KIN_AFTER


def is_sender(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the leader at ``span`` is written as sending someone ("a message from
    Putin", "Putin's envoy"), not as travelling."""
    tokens = field.tokens
    if _kin_after(span, field):
        return True
    # "Putin's envoy", "Trump's Pentagon chief", "Donald Trump's special envoy".
    if token_at(tokens, span.last + 1) == "s" and any(
        token_at(tokens, span.last + offset) in _STAFF_AFTER
        for offset in range(2, 2 + _STAFF_REACH)
    ):
        return True
    # "Xi sends Wang Yi to Moscow": the one sent travels.
    if token_at(tokens, span.last + 1) in _SENDS:
        return True
    # "Putin aide Ushakov", "Trump envoy Witkoff": the name as a noun's modifier.
    if token_at(tokens, span.last + 1) in _STAFF_AFTER and _spaced(field, span.last):
        return True
    # Inside the span too: a title qualified by a country spans both ("Ukraine and a
    # message from the president").
    reach = range(span.first - _SENDER_REACH, span.last)
    before = {token_at(tokens, position) for position in reach}
    if not before.isdisjoint(_SENDER_BEFORE):
        return True
    if span.field != HEADLINE:
        return False
    return not before.isdisjoint(_KIN_GENITIVE) or any(
        token_at(tokens, position) in _KIN_OF and token_at(tokens, position + 1) in _OF
        for position in range(span.first - _SENDER_REACH, span.first)
    )


def _spaced(field: FieldText, position: int) -> bool:
    """Whether only a space is between the token at ``position`` and the next."""
    tokens = field.tokens
    number = number_at(tokens, position)
    if number is None or number + 1 >= len(tokens):
        return False
    return field.text[tokens.ends[number] : tokens.starts[number + 1]] == " "


# Offices of ministers and envoys: inside a span of a country qualifier and a
# leader's title ("Chinese foreign minister meets French president"), the
# qualifier is the minister's, not the leader's. "Prime minister", "premier
# ministre", "primer ministro", "премьер-министр" are the leader's own title.
_OFFICE_WORDS = frozenset(
    {
        "minister", "ministers", "ministre", "ministro", "ministra", "министр", "secretary",
        "envoy", "ambassador", "ambassadeur", "embajador", "botschafter", "посол",
        # "American Vice President": the office is the vice-president's.
        "vice", "вице",
    }
)  # fmt: skip
_PRIME = frozenset({"prime", "premier", "premiere", "primer", "primera", "премьер"})


# How far after a qualifier that ends the span an office is looked for ("Chinese
# Foreign Minister", "russischer Außenminister" is one word and no title).
_OFFICE_AFTER_REACH = 2


def qualifies_another_office(span: HitSpan, field: FieldText) -> bool:
    """Whether a minister's or envoy's office lies inside the span of a country and
    a leader's title, so the country qualifies that office, not the leader's; or
    right after a qualifier that ends the span ("Prime Minister Modi met Chinese
    Foreign Minister Wang Yi"); or the qualifier is a word in lower case ("the
    Arctic island's premier": "Island" is Iceland in German)."""
    tokens = field.tokens

    def is_office(position: int) -> bool:
        return token_at(tokens, position) in _OFFICE_WORDS and (
            token_at(tokens, position - 1) not in _PRIME
        )

    if any(is_office(position) for position in range(span.first + 1, span.last)):
        return True
    if len(span.hits) < 2:
        return False
    # The query writes the qualifier before the title ("(@demonyms OR @countries)
    # NEAR/6 @leader-titles"), so the first hit is the qualifier.
    qualifier = span.hits[0]
    # Before the title only: after it, French and Spanish write a country's
    # adjective in lower case ("le dirigeant indien").
    if (
        qualifier.first == qualifier.last == span.first
        and written_at(field, qualifier.first)[:1].islower()
    ):
        return True
    return qualifier.last == span.last and any(
        is_office(position)
        for position in range(span.last + 1, span.last + 1 + _OFFICE_AFTER_REACH)
    )


# Capitalised words that start a headline or sentence before a name and are no
# given name ("As Trump heads to Asia", "Wie Merz ...", "Quand Macron ..."): words
# of the topic languages' grammar.
_OPENING_WORDS = frozenset(
    {
        "as", "when", "why", "how", "what", "where", "while", "after", "before", "if", "will",
        "can", "could", "should", "would", "does", "did", "is", "was", "has", "now", "then",
        "so", "but", "and", "today", "tonight", "yesterday", "mr", "mrs", "ms", "dr", "sir",
        "dame", "wie", "warum", "wenn", "als", "wo", "ob", "nun", "heute", "herr",
        "frau", "quand", "pourquoi", "comment", "comme", "si", "apres", "avant", "monsieur",
        "madame", "mme", "cuando", "como", "porque", "donde", "tras", "antes", "hoy",
        "senor", "senora", "don", "dona", "the", "el", "la", "le", "les", "der", "die", "das",
    }
    # Days and months, capitalised in English and German: "Putin Tuesday met ...".
    | {
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "january", "february", "march", "april", "may", "june", "july", "august",
        "september", "october", "november", "december", "montag", "dienstag", "mittwoch",
        "donnerstag", "freitag", "samstag", "sonntag", "januar", "februar", "marz", "mai",
        "juni", "juli", "oktober", "dezember",
    }
)  # fmt: skip


def title_case(field: FieldText) -> bool:
    """Whether every word of four letters or more is capitalised ("Albanese Drops In
    On Troops"): then capitals say nothing of names."""
    long = [w for w in (written_at(field, p) for p in field_positions(field)) if len(w) >= 4]
    return all(w[:1].isupper() for w in long if w.isalpha())


# How far into the summary a headline's one-word name is looked for beside
# another name ("Sanchez arrives ..." over "forward Alexis Sanchez landed ..."):
# an article names its subject in full early on, and the bound keeps the cost fixed.
_NAMESAKE_SUMMARY_REACH = 256


@cache
def _own_name_words() -> dict[str, frozenset[str]]:
    """:func:`leader_name_words`, folded as tokens are."""
    return {
        fold(word): frozenset(_spelling_key(fold(other)) for other in others)
        for word, others in leader_name_words().items()
    }


# German and other spellings of the same given name ("Wladimir" for "Vladimir",
# "Wolodymyr" for "Volodymyr", "Jurij" for "Yuriy"): letters that transcriptions
# of one name swap, mapped to one.
_SPELLING = str.maketrans({"w": "v", "j": "y"})


def _spelling_key(word: str) -> str:
    return word.translate(_SPELLING)


_HYPHENATED = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def _is_own_name(field: FieldText, position: int, own: frozenset[str]) -> bool:
    """Whether the word at ``position``, with any parts hyphenated to it, is among
    the leader's own names ``own``: "Jae-sung" beside "Lee" is not Lee Jae-myung's."""
    number = number_at(field.tokens, position)
    if number is None or not own:
        return False
    word = _HYPHENATED.match(field.text, field.tokens.starts[number])
    parts = fold(word.group()).split("-") if word else [token_at(field.tokens, position)]
    return all(_spelling_key(part) in own for part in parts)


def _titled(field: FieldText, at: int, listed: frozenset[int]) -> bool:
    """Whether a list term (a title) is right before the word at ``at``, with only a
    space between ("President Emmerson Mnangagwa", not "its new leader, John Lee")."""
    return at - 1 in listed and text_between(field, at - 1, at) == " "


def _beside_another_name(field: FieldText, at: int, listed: frozenset[int]) -> str | None:
    """The two words, when the word at ``at`` has a capitalised word beside it that
    is in no list and none of the leader's own names ("Alexis Sanchez", not
    "Gustavo Petro"), with only a space between, and no list term (a title) right
    before the two (:func:`_titled`); else None."""
    own = _own_name_words().get(token_at(field.tokens, at), frozenset())
    for position in (at - 1, at + 1):
        other = written_at(field, position)
        if (
            not other
            or position in listed
            or not (other[:1].isupper() and other.isalpha())
            or token_at(field.tokens, position) in _OPENING_WORDS
            or _is_own_name(field, position, own)
            or _titled(field, min(position, at), listed)
        ):
            continue
        first, second = sorted((position, at))
        if text_between(field, first, second) == " ":
            return f"{written_at(field, first)} {written_at(field, second)}"
    return None


def is_namesake(
    span: PlacedSpan,
    fields: Mapping[str, FieldText],
    listed: Mapping[str, frozenset[int]],
    title_cased: Callable[[FieldText], bool] = title_case,
) -> bool:
    """Whether a leader's one-word name at ``span`` is another person's: right beside
    a capitalised word that is in no list (``listed`` holds each field's positions
    of list terms) with only a space between ("Martin Hayes arrives",
    "Paolo Meloni arrives", "runner Petro Kovalenko"). In the summary only when the
    headline has the same two words, since a summary's capitalised nouns (German)
    follow a name as often as a family name does; a headline's name also when the
    summary writes it so ("Sanchez arrives in Marseille" over "forward Alexis
    Sanchez landed ..."). ``title_cased`` is :func:`title_case`, or a caller's memo
    of it (it reads the whole field)."""
    field = fields[span.field]
    if span.first != span.last or title_cased(field):
        return False
    name = written_at(field, span.first)
    if not name[:1].isupper():
        return False  # "el pontífice": a title, not a name
    # A one-word term that is no leader's name in the Factbook is a title the
    # deployment lists as a leader ("Bundeskanzlerin Angela Merkel", "Taoiseach").
    if token_at(field.tokens, span.first) not in _own_name_words():
        return False
    headline = fields[HEADLINE].text if HEADLINE in fields else ""
    pair = _beside_another_name(field, span.first, listed.get(span.field, frozenset()))
    if pair is not None and (span.field == HEADLINE or pair in headline):
        return True
    summary = fields.get(SUMMARY)
    if summary is None or title_cased(summary):
        return False
    # The summary's first mention of the name says who it is ("forward Alexis
    # Sanchez", "teenager Martin Landaluce"): then every mention is that person.
    token = token_at(field.tokens, span.first)
    try:
        first = summary.tokens.words.index(token, 0, _NAMESAKE_SUMMARY_REACH)
    except ValueError:
        return False
    summary_listed = listed.get(SUMMARY, frozenset())
    position = summary.tokens.position(first)
    return _beside_another_name(summary, position, summary_listed) is not None


# How many given names are read past, back from a one-word name ("of Donald Trump").
_GIVEN_NAMES = 3


# What a leader owns that a place names ("Trump's Greenland push").
_OWNED_NOUNS = OPINION_NOUNS | TOPIC_AFTER


def is_spoken_of_leader(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the leader at ``span`` follows a noun of what they decide or say and
    "of" ("memories of Donald Trump", "la décision de Donald Trump"), or owns one
    ("Trump's tariffs"): the subject of someone else's sentence, not a traveller."""
    tokens = field.tokens
    # "Trump's tariffs on Japan": the leader's policy, not the leader's trip; so is
    # one named by its place ("amid Trump's Greenland push", "Trump's Gaza plan").
    if (
        token_at(tokens, span.last + 1) == "s"
        and (
            token_at(tokens, span.last + 2) in OPINION_NOUNS
            # The folded word first: the text as written costs the field's offsets.
            or (
                token_at(tokens, span.last + 3) in _OWNED_NOUNS
                and written_at(field, span.last + 2)[:1].isupper()
            )
        )
    ):
        return True
    at = span.first - 1
    # Past the given names of a one-word span's full name ("of Donald Trump").
    while span.first - at <= _GIVEN_NAMES and written_at(field, at)[:1].isupper():
        at -= 1
    return token_at(tokens, at) in OF_NOUN and token_at(tokens, at - 1) in OPINION_NOUNS
