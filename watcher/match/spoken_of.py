"""A place the news speaks of, not where anyone is (issue #20).

"Lula rejects US pressure over Venezuela", "Macron speaks about Gaza", "Trump's
tariffs on Japan", "Merz spricht über China": a foreign place after a word of
subject matter is what a leader talks, argues or acts about. ABROAD
(:mod:`watcher.match.abroad`) takes such a place as no evidence of a trip.

So is the object of a verb of discussion ("to discuss Ukraine", "parler de la
Chine"), and a place after a noun of an event and a word of place ("the war in
Ukraine", "la crise en Haïti"): the event's place, not the leader's.

So is a place later in the clause a leader comments on ("Macron comments on Gaza
ceasefire talks in Cairo", "Meloni weighs in on Ukraine talks in Geneva",
"Merz äußert sich zu den Gesprächen in Genf"): the talks are there, not the leader.

So is a place that modifies a noun of talk or dispute ("premier's Taiwan
remarks", "Trump's China tariffs", "the Ukraine war", "India trade deal"; in CJK
the noun after it: "美国威胁", "우크라이나 전쟁").

So is a place after a negation ("but not in Kyiv") or an invitation ("invited
him to Ankara"): where no one is yet.

So is a country a leader acts on: the object of a verb of supplying, backing,
sanctioning ("keeps supplying Ukraine", "soutient l'Ukraine", "unterstützt die
Ukraine"), and the country after "support for" or "aid to".

So is a place that stands for its government or owns something: what a leader
speaks to or of ("Putin says Kyiv must"), a reported clause's subject ("that
Russia must"), a clause's acting subject ("as New Zealand sends crews"), a
possessive ("Kyiv's forces"): :func:`names_a_government`.

"On" is a word of subject matter only after a noun of policy or dispute
("tariffs on Japan", "sanctions on Russia", "talks on Ukraine"): "on Cyprus",
"on Jeju" can be where someone is. Words of the topic languages, not world facts.
"""

from __future__ import annotations

from watcher.match.cjk_after import is_subject, is_topic_after
from watcher.match.press import clause_break_between, number_at, text_after, token_at
from watcher.match.text import FieldText, Tokens
from watcher.match.window import PlacedSpan

_ABOUT = frozenset(
    {
        "over", "about", "regarding", "concerning", "sur", "concernant", "uber", "sobre",
        "acerca", "о", "об", "относительно",
    }
)  # fmt: skip
_ON = frozenset({"on", "upon"})
# Nouns of policy and dispute before "on": what is imposed on, said on or fought
# over a country. Ordinary English words.
_POLICY_NOUNS = frozenset(
    {
        "tariffs", "tariff", "sanctions", "sanction", "levies", "duties", "pressure",
        "stance", "position", "policy", "remarks", "comments", "views", "war", "attack",
        "attacks", "strikes", "strike", "talks", "deal", "ban", "embargo", "curbs",
        "restrictions", "crackdown", "statement", "resolution", "vote", "report",
        "advice", "warning", "demands", "plan", "focus", "hardline", "tough", "soft",
    }
)  # fmt: skip
# Verbs whose object is a subject of talk ("to discuss Ukraine", "parler de la Chine").
_DISCUSS = frozenset(
    {
        "discuss", "discusses", "discussed", "discussing", "evoquer", "evoque", "parler",
        "besprechen", "bespricht", "discutir", "обсудить", "обсудили", "обсуждали",
    }
)  # fmt: skip
# Nouns of an event, then a word of place: the place is the event's ("the war in
# Ukraine", "la crise en Haïti", "der Krieg in der Ukraine"), not the leader's.
_EVENT_NOUNS = frozenset(
    {
        "war", "conflict", "crisis", "fighting", "violence", "unrest", "situation",
        "election", "elections", "famine", "genocide", "peace", "ceasefire", "paix",
        "frieden", "waffenruhe", "paz", "guerre", "conflit", "crise",
        "violences", "krieg", "konflikt", "krise", "lage", "wahl", "wahlen",
        "guerra", "conflicto", "situacion", "elecciones", "война", "войны",
        "конфликт", "кризис", "ситуация", "выборы",
    }
)  # fmt: skip
# Verbs whose object is a country acted on from wherever the leader is ("supplying
# Ukraine", "backs Taiwan", "soutient l'Ukraine", "unterstützt die Ukraine", "apoya
# a Ucrania"): ordinary transitive verbs of the topic languages.
_ACT_ON = frozenset(
    {
        "supply", "supplies", "supplied", "supplying", "arm", "arms", "armed", "arming",
        "back", "backs", "backed", "backing", "support", "supports", "supported",
        "supporting", "sanction", "sanctions", "sanctioned", "sanctioning", "fund",
        "funds", "funded", "funding", "defend", "defends", "defended", "defending",
        "soutient", "soutenir", "soutenu", "armer", "arme", "sanctionner", "sanctionne",
        "unterstutzt", "unterstutzen", "beliefert", "beliefern", "sanktioniert",
        "apoya", "apoyar", "apoyo", "respalda", "respaldar", "sanciona",
        "поддерживает", "поддержать", "поддержали", "вооружает",
    }
)  # fmt: skip
# German puts the verb after its object ("die Ukraine weiter beliefern"): these
# forms a word or two after the place make it the object.
_ACT_ON_AFTER = frozenset(
    {
        "beliefern", "liefern", "liefert", "lieferte", "unterstutzen", "unterstutzt",
        "sanktionieren",
        "bewaffnen", "finanzieren",
    }
)  # fmt: skip
_AFTER_REACH = 2
# English nouns of talk and dispute right after a place make it the subject's
# modifier ("after Japanese premier's Taiwan remarks", "Trump's China tariffs",
# "the Ukraine war"): what the news is about, not where anyone is.
TOPIC_AFTER = frozenset(
    {
        "remarks", "comments", "tariffs", "tariff", "sanctions", "policy", "stance", "war",
        "strategy", "ceasefire", "crisis", "conflict", "invasion", "question", "issue",
        "dispute", "row", "trade", "deal", "pact", "accord", "accords", "agreement",
        "review", "ruling", "probe", "declaration", "treaty", "consensus", "communique",
        "threat", "threats", "push", "bid", "plan", "plans", "takeover", "annexation",
        "gambit", "ambitions", "envoy",
    }
)  # fmt: skip
# Nouns of help, then the word that names who gets it ("support for Ukraine", "aid
# to Gaza", "soutien à l'Ukraine", "Hilfe für die Ukraine").
_HELP_TO = frozenset(
    {
        ("support", "for"), ("support", "to"), ("aid", "to"), ("aid", "for"),
        ("assistance", "to"), ("assistance", "for"), ("weapons", "to"), ("arms", "to"),
        ("soutien", "a"), ("aide", "a"), ("hilfe", "fur"), ("unterstutzung", "fur"),
        ("ayuda", "a"), ("apoyo", "a"), ("помощь", "для"), ("armes", "a"), ("armas", "a"),
        ("waffen", "an"), ("livre", "a"), ("livrer", "a"), ("liefert", "an"),
    }
)  # fmt: skip
# Verbs of comment with the word that opens what is commented on ("comments on",
# "reacts to", "réagit à", "reagiert auf", "reacciona a", "отреагировал на"), and
# verbs whose object is it ("kommentiert", "commente"): everything after them in
# the clause is the subject matter. Ordinary dictionary words, folded.
_COMMENT_ON = frozenset(
    {
        ("comments", "on"), ("commented", "on"), ("comment", "on"), ("remarks", "on"),
        ("remarked", "on"), ("weighs", "in"), ("reacts", "to"), ("reacted", "to"),
        ("responds", "to"), ("responded", "to"), ("speaks", "on"), ("spoke", "on"),
        ("reagit", "a"), ("reagi", "a"), ("exprime", "sur"), ("prononce", "sur"),
        ("aussert", "sich"), ("ausserte", "sich"), ("reagiert", "auf"), ("reagierte", "auf"),
        ("reacciona", "a"), ("reacciono", "a"), ("pronuncia", "sobre"),
        ("opina", "sobre"), ("отреагировал", "на"), ("высказался", "о"),
    }
)  # fmt: skip
_COMMENT_VERBS = frozenset(
    {"kommentiert", "kommentierte", "commente", "comenta", "comento", "прокомментировал"}
)
# How far before a place such a verb is looked for: a headline's clause.
_COMMENT_REACH = 8
# A word of place after a negation says where someone is not ("ready to meet, but
# not in Kyiv", "nicht nach Moskau", "pas à Pékin", "не в Киеве").
_NOT = frozenset({"not", "never", "nicht", "nie", "pas", "jamais", "no", "nunca", "не"})
# An invitation to a place is no trip yet ("invited him to Ankara", "l'a invité à
# Paris", "lud ihn nach Berlin ein"): the verb a few words before "to".
_INVITE = frozenset(
    {
        "invited", "invites", "invite", "invitation", "invitee", "invita",
        "invito", "eingeladen", "einladung", "lud", "ladt", "пригласил", "пригласила",
    }
)  # fmt: skip
_TO = frozenset({"to", "a", "au", "en", "nach", "в", "во"})
_INVITE_REACH = 3
_EVENT_PLACE_WORDS = frozenset({"in", "en", "au", "aux", "dans", "im", "в", "на"})
# Nouns of trade and money, then a word of place or direction: where the goods or
# the money go ("investments in the US", "exports to China", "Exporte in die USA",
# "investissements aux États-Unis"), not where the leader is.
_TRADE_NOUNS = frozenset(
    {
        "investment", "investments", "exports", "imports", "shipments", "sales", "goods",
        "investissement", "investissements", "exportations", "importations",
        "investitionen", "exporte", "importe", "ausfuhren", "lieferungen",
        "inversion", "inversiones", "exportaciones", "importaciones",
        "инвестиции", "экспорт", "импорт", "поставки",
    }
)  # fmt: skip
# Where they come from, too ("oil shipments from Venezuela", "Importe aus China").
_TRADE_TO = _EVENT_PLACE_WORDS | frozenset(
    {"to", "into", "a", "nach", "vers", "hacia", "from", "aus", "desde", "из"}
)
# Where someone comes from, not where anyone is ("a doctor born in Saudi Arabia",
# "ein aus Saudi-Arabien stammender Arzt", "Saudi-born", "originaire du Mali").
_ORIGIN_BEFORE = frozenset(
    {
        ("born", "in"), ("native", "of"), ("originally", "from"), ("originaire", "de"),
        ("originaire", "du"), ("originaire", "d"), ("natif", "de"), ("native", "de"),
        ("ne", "en"), ("nee", "en"), ("oriundo", "de"), ("oriunda", "de"), ("nacido", "en"),
        ("nacida", "en"), ("geboren", "in"), ("geburtig", "aus"), ("родом", "из"),
        # Who came from there: "les soldats venus du Brésil", "llegados de México".
        *(
            (came, of)
            for came in (
                "venu", "venue", "venus", "venues", "venant", "provenance", "venidos",
                "venidas", "llegados", "llegadas", "procedentes",
            )
            for of in ("de", "du", "des", "d", "del")
        ),
    }
)  # fmt: skip
_ORIGIN_AFTER = frozenset(
    {
        "born", "stammend", "stammende", "stammender", "stammenden", "stammt", "stammte",
        "stammen", "stammten", "origin", "descent",
    }
)  # fmt: skip
# The agent of a passive: "tariffs imposed by Washington", "gravámenes impuestos
# por Washington". English participles end in -ed (not "hosted by", "organised by":
# the host's country is where the event is); Spanish ones in -ado/-ido/-esto and
# their plurals and feminines.
_NOT_AGENT = frozenset({"hosted", "organised", "organized", "convened", "chaired", "held"})
_SPANISH_PARTICIPLE = (
    "ado",
    "ada",
    "ados",
    "adas",
    "ido",
    "ida",
    "idos",
    "idas",
    "esto",
    "esta",
    "estos",
    "estas",
)


def _is_agent(word: str, before: str) -> bool:
    """Whether ``word`` after ``before`` opens a passive's agent ("imposed by")."""
    if word == "by":
        return before.endswith("ed") and before not in _NOT_AGENT
    return word == "por" and before.endswith(_SPANISH_PARTICIPLE)


# Places a few words after "between" are the parties of a relation ("deal between
# the EU and the USA", "zwischen der EU und den USA", "entre la Chine et l'Inde"),
# or what lies on either side ("wedged between Poland and Lithuania").
_BETWEEN = frozenset({"between", "zwischen", "entre", "между"})
_AND = frozenset({"and", "und", "et", "y", "и"})
_BETWEEN_REACH = 6
# Articles between the word and the place ("over the Philippines", "sur la Chine").
_ARTICLES = frozenset({"the", "le", "la", "les", "l", "der", "die", "das", "den", "el", "los"})


def is_spoken_of(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the place at ``span`` follows a word of subject matter ("over
    Venezuela", "about Gaza", "tariffs on Japan")."""
    tokens = field.tokens
    at = span.first - 1
    if token_at(tokens, at) in _ARTICLES:
        at -= 1
    word = token_at(tokens, at)
    if word in _ABOUT:
        return True
    before = token_at(tokens, at - 1)
    if word in _EVENT_PLACE_WORDS and before in _EVENT_NOUNS:
        return True
    # An adjective may stand between ("investissements européens aux États-Unis").
    if word in _TRADE_TO and (before in _TRADE_NOUNS or token_at(tokens, at - 2) in _TRADE_NOUNS):
        return True
    if (before, word) in _ORIGIN_BEFORE or token_at(tokens, span.last + 1) in _ORIGIN_AFTER:
        return True
    if _is_agent(word, before):
        return True
    # "la respuesta de Bruselas", "the response of Beijing": its government's.
    if word in OF_NOUN and before in OPINION_NOUNS:
        return True
    # Between two parties: right after "between", or coordinated with "and" a few
    # words after it ("between NATO members Poland and Lithuania"); not "solo
    # entre los líderes europeos, visita Pekín" (Spanish "among").
    if word in _BETWEEN or (
        (word in _AND or token_at(tokens, span.last + 1) in _AND)
        and word not in _PLACE_WORDS
        and _between_before(tokens, at + 1)
    ):
        return True
    if before in _NOT and word in _PLACE_WORDS:
        return True
    if word in _TO and any(
        token_at(tokens, at - back) in _INVITE for back in range(1, _INVITE_REACH + 1)
    ):
        return True
    if word in _DISCUSS or (word in ("de", "du", "des") and before in _DISCUSS):
        return True
    if word in _ACT_ON or (before, word) in _HELP_TO:
        return True
    # "apoya a Ucrania": Spanish marks a country acted on with "a".
    if word == "a" and before in _ACT_ON:
        return True
    reach = range(span.last + 1, span.last + 1 + _AFTER_REACH)
    if any(token_at(tokens, position) in _ACT_ON_AFTER for position in reach):
        return True
    # Not after a word of place or across a comma: "Starmer, in Washington,
    # comments on ..." is where he is, and "comments" a verb.
    if (
        token_at(tokens, span.last + 1) in TOPIC_AFTER
        and word not in _PLACE_WORDS
        and not clause_break_between(field, span.last, span.last + 1)
    ):
        return True
    if word in _ON and before in _POLICY_NOUNS:
        return True
    return _after_a_comment(span, field) or is_topic_after(span, field)


def _between_before(tokens: Tokens, at: int) -> bool:
    """Whether "between" comes a few words before position ``at`` ("between NATO
    members Poland and Lithuania")."""
    return any(token_at(tokens, at - back) in _BETWEEN for back in range(1, _BETWEEN_REACH + 1))


def _after_a_comment(span: PlacedSpan, field: FieldText) -> bool:
    """Whether a verb of comment opens the clause the place at ``span`` is in."""
    tokens = field.tokens
    number = number_at(tokens, span.first)
    if number is None:
        return False
    words = tokens.words
    for before in range(number - 1, max(number - _COMMENT_REACH, 0) - 1, -1):
        word = words[before]
        if (before and (words[before - 1], word) in _COMMENT_ON) or word in _COMMENT_VERBS:
            return not clause_break_between(field, tokens.position(before), span.first)
    return False


# A capital right after a verb of speaking to, about or against someone is the
# government spoken of, not where the speaker is ("Putin says Kyiv must ...",
# "Xi warns Washington", "Merz kritisiert Peking", "Macron critique Moscou").
# Ordinary dictionary verbs of the topic languages, in their news-headline forms.
_ADDRESSED_BEFORE = frozenset(
    {
        "says", "said", "tells", "told", "warns", "warned", "urges", "urged", "threatens",
        "threatened", "accuses", "accused", "blames", "blamed", "criticises", "criticised",
        "criticizes", "criticized", "slams", "slammed", "condemns", "condemned", "rebukes",
        "rebuked", "asks", "asked", "dit", "avertit", "menace", "accuse", "critique",
        "exhorte", "somme", "demande", "pide", "pidio",
        "sagt", "warnt", "droht", "kritisiert", "fordert", "mahnt", "dice", "advierte",
        "amenaza", "acusa", "critica", "insta", "exige", "заявил", "предупредил",
        "пригрозил", "обвинил", "раскритиковал", "призвал", "потребовал",
        # A reported clause's subject ("told MPs that Russia must ..."): its government.
        "that", "dass", "que", "что",
        # A condition's subject ("if Moscow continues", "sollte Moskau ...").
        "if", "unless", "sollte", "falls", "wenn", "si", "если",
    }
)  # fmt: skip
# A place in the possessive owns something ("Kyiv's forces", "Moscow's threats"),
# it does not say where anyone is, unless a word of place or of presence comes
# before it ("in Beijing's Great Hall", "for China's parade", "attends Russia's
# Victory Day").
_LOCATING_BEFORE = frozenset(
    {
        "in", "at", "inside", "to", "from", "into", "for", "attend", "attends", "attended",
        "attending", "visit", "visits", "visited", "visiting", "join", "joins", "joined",
        "joining", "tour", "tours", "toured", "touring",
    }
)  # fmt: skip
# A place right before one of these is the subject of its clause, the country or
# government that acts ("as New Zealand sends crews", "Frankreich schickt Helfer",
# "l'Italie propose son aide", "Marruecos envía ayuda"), not where anyone is;
# unless a word of place comes before it ("Macron in Beijing says ..."). Ordinary
# dictionary verbs of the topic languages in their headline forms (folded).
_ACTING_AFTER = frozenset(
    {
        "sends", "sent", "offers", "offered", "pledges", "pledged", "promises", "promised",
        "warns", "warned", "urges", "urged", "vows", "vowed", "announces", "announced",
        "demands", "demanded", "denies", "denied", "rejects", "rejected", "condemns",
        "condemned", "accuses", "accused", "says", "said", "must", "mourns", "responds",
        "prepares", "prepare", "bereitet", "prepara", "готовит", "postponed", "postpones",
        "cancelled", "canceled", "cancels",
        "propose", "envoie", "offre", "promet", "annonce", "denonce", "condamne",
        "menace", "exige", "accuse", "reclame", "affirme", "doit",
        "schickt", "schickte", "sendet", "entsendet", "bietet", "verspricht", "kundigt",
        "warnt", "droht", "fordert", "verurteilt", "kritisiert", "erklart", "muss",
        "envia", "envio", "ofrece", "ofrecio", "promete", "anuncia", "advierte",
        "amenaza", "condena", "acusa", "afirma", "debe", "rechaza",
        "направила", "направил", "предложила", "предложил", "пообещала", "заявила",
        "заявил", "пригрозила", "потребовала", "осудила", "отправила", "прислала",
    }
)  # fmt: skip
# Events a leader goes to a country for ("for China's parade", "for India's
# Republic Day"): after "for" and a possessive, these say where.
_EVENTS_AFTER_FOR = frozenset(
    {
        "parade", "summit", "celebrations", "celebration", "commemoration", "commemorations",
        "anniversary", "inauguration", "ceremony", "ceremonies", "talks", "jubilee",
        "festivities", "victory", "national", "independence", "republic", "military",
        "first", "annual",
    }
)  # fmt: skip
# Words of place before a name: then the name says where, whatever follows.
_PLACE_WORDS = _LOCATING_BEFORE | {
    "a",
    "au",
    "aux",
    "dans",
    "en",
    "im",
    "nach",
    "in",
    "в",
    "во",
    "на",
}
# Spanish and French put "a"/"à" before whom a verb addresses ("advierte a
# Washington", "demande à Moscou").
_PERSONAL_A = frozenset({"a", "al"})


def _apostrophe_after(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the place at ``span`` is followed by an apostrophe ("Kyiv's")."""
    return text_after(field, span.last, 1) in ("'", "’")


def names_a_government(span: PlacedSpan, field: FieldText) -> bool:
    """Whether the place at ``span`` stands for its government or owns something: what
    a leader speaks to or of ("Putin says Kyiv must", "advierte a Washington"), a
    reported clause's subject ("that Russia must"), a clause's acting subject ("as
    New Zealand sends crews"), a possessive ("Kyiv's forces").
    No evidence of a trip abroad; a home place so written still says the news is
    at home ("said Britain would")."""
    tokens = field.tokens
    before = token_at(tokens, span.first - 1)
    # An article between: "pour que la Chine ne livre pas", "dass die Ukraine".
    addressed = token_at(tokens, span.first - 2) if before in _ARTICLES else before
    if addressed in _ADDRESSED_BEFORE or (
        before in _PERSONAL_A and token_at(tokens, span.first - 2) in _ADDRESSED_BEFORE
    ):
        return True
    if token_at(tokens, span.last + 1) in _ACTING_AFTER and before not in _PLACE_WORDS:
        return True
    if is_subject(span, field):
        return True
    if token_at(tokens, span.last + 1) != "s" or not _apostrophe_after(span, field):
        return False
    # "for China's parade" is where, "a penalty for New Delhi's purchases" whose.
    if before == "for":
        return token_at(tokens, span.last + 2) not in _EVENTS_AFTER_FOR
    return before not in _LOCATING_BEFORE


# Nouns of what a leader or government decides, says or stands for, then "of": the
# leader or the place after them is spoken of, not travelling ("fond memories of
# Donald Trump", "la décision de Donald Trump", "die Entscheidung von Trump").
# Ordinary dictionary nouns.
OPINION_NOUNS = frozenset(
    {
        "memories", "memory", "decision", "decisions", "policy", "policies", "remarks",
        "comments", "words", "threats", "threat", "demands", "criticism", "critics", "critic",
        "ally", "allies", "supporters", "opponents", "election", "victory", "administration",
        "government", "regime", "announcement", "plan", "plans", "proposal", "order", "orders",
        "response", "tariffs", "sanctions", "souvenirs", "politique", "propos", "menaces",
        "exigences", "critique", "critiques", "allie", "partisans", "victoire", "gouvernement",
        "annonce", "proposition", "reponse", "riposte", "tarifs", "droits", "entscheidung",
        "politik", "ausserungen", "drohungen", "forderungen", "kritik", "verbundeter",
        "anhanger", "wahl", "sieg", "regierung", "ankundigung", "vorschlag", "antwort", "zolle",
        "politica", "declaraciones", "amenazas", "exigencias", "criticas", "aliado",
        "partidarios", "eleccion", "victoria", "gobierno", "anuncio", "propuesta", "respuesta",
        "aranceles", "sanciones", "inauguration", "investiture", "amtseinfuhrung",
        "investidura", "инаугурация", "инаугурации",
    }
)  # fmt: skip
OF_NOUN = frozenset({"of", "de", "d", "du", "von", "des", "del", "by", "par", "por", "durch"})
