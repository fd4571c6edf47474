"""What the words right after a place in Chinese, Japanese or Korean say of it
(issue #20): that the news speaks of it, or that it is a clause's subject, not
where anyone is. :mod:`watcher.match.spoken_of` asks, for a foreign place, and
:mod:`watcher.match.no_place` (a place's time) for any. Words of the topic
languages, not world facts; CJK tokens are single characters, so these are read
as text after the place's last character.
"""

from __future__ import annotations

from watcher.match.press import text_after, token_at
from watcher.match.text import FieldText
from watcher.match.window import PlacedSpan

# Nouns of talk and dispute right after a place in Chinese, Japanese and Korean,
# which write them right after it, or after a space ("美国威胁", "ウクライナ戦争",
# "우크라이나 전쟁"): their words for threat, war, tariffs, sanctions, question,
# situation, conflict, crisis, contingency ("台湾有事"), and for a declaration,
# agreement or treaty named after where it was made ("워싱턴 선언", "巴黎协定").
_TOPIC_AFTER = (
    "威胁", "威脅", "战争", "戰爭", "关税", "關稅", "制裁", "问题", "問題", "局势", "局勢",
    "冲突", "衝突", "危机", "危機", "脅威", "戦争", "関税", "情勢", "紛争", "有事",
    "위협", "전쟁", "관세", "제재", "문제", "사태", "정세", "분쟁", "위기",
    "宣言", "声明", "聲明", "协定", "協定", "协议", "協議", "合意", "共识", "共識", "条约",
    "條約", "条約", "선언", "성명", "협정", "합의", "조약",
    # An official's office the country qualifies ("美国国务卿布林肯", "米国務長官",
    # "미국 국무장관"): whose official, not where anyone is.
    "国务卿", "國務卿", "外长", "外長", "外交部长", "外交部長", "国防部长", "國防部長",
    "防长", "特使", "大使", "国務長官", "国防長官", "外相", "外務大臣", "国防相",
    "국무장관", "외교장관", "외무장관", "국방장관", "장관", "특사", "대사",
    # Whom a leader warns, urges or presses ("모스크바에 경고", "北京に警告"): the
    # government addressed.
    "에 경고", "에 촉구", "에 요구", "에 압박", "에 항의", "に警告", "に要求", "に圧力",
    "に抗議", "に要請",
    # A government's stance or decision ("모스크바의 태도", "北京の立場", "华盛顿的决定").
    "의 태도", "의 입장", "의 결정", "의 제안", "の立場", "の態度", "の決定", "的立场", "的立場",
    "的态度", "的態度", "的决定", "的決定",
)  # fmt: skip
# How many characters after a CJK place are read for those nouns: a space and the
# longest of them.
_TOPIC_READ = 6
# A Japanese or Korean particle right after a place makes it its clause's subject
# or topic ("中国は日本への渡航自粛を呼びかけ", "러시아가 경고했다"): the country
# that acts. Not "で"/"에서" (where), nor "이" (it begins words too).
_SUBJECT_AFTER = ("は", "が", "은", "는", "가")


def cjk_text_after(span: PlacedSpan, field: FieldText, length: int) -> str:
    """The ``length`` characters right after the place at ``span`` when it is written
    in CJK characters, else ""."""
    if token_at(field.tokens, span.last).isascii():
        return ""
    return text_after(field, span.last, length)


def is_topic_after(span: PlacedSpan, field: FieldText) -> bool:
    """Whether a CJK noun of threat, war or dispute (or an official's office, a
    declaration, a government's stance) follows the place at ``span``."""
    return cjk_text_after(span, field, _TOPIC_READ).lstrip().startswith(_TOPIC_AFTER)


def is_subject(span: PlacedSpan, field: FieldText) -> bool:
    """Whether a Japanese or Korean subject or topic particle follows the place."""
    return cjk_text_after(span, field, 1) in _SUBJECT_AFTER
