"""The command line's language and its catalogue of phrases."""

from __future__ import annotations

import string

import pytest

from ecocomp.i18n import MESSAGES, default_lang, message, named


@pytest.mark.parametrize("environ, lang", [
    ({}, "en"),
    ({"LANG": "zh_CN.UTF-8"}, "zh"),
    ({"LANG": "zh_TW.UTF-8"}, "zh"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"}, "en"),  # LC_ALL wins
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.GB18030"}, "zh"),
    ({"LC_ALL": "", "LANG": "zh_CN"}, "zh"),  # an empty variable is not set
    ({"LANG": "zh_CN.UTF-8", "ECOCOMP_LANG": "en"}, "en"),  # ECOCOMP_LANG wins
    ({"ECOCOMP_LANG": "zh_CN"}, "zh"),
])
def test_default_language_follows_ecocomp_lang_then_the_locale(environ, lang):
    assert default_lang(environ) == lang


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_each_phrase_has_both_languages_with_the_same_fields(key):
    english, chinese = MESSAGES[key]
    assert english and chinese
    assert _fields(english) == _fields(chinese)


def test_message_picks_the_language():
    fields = {"posted": 1, "unchanged": 2, "adjusted": 3}
    assert message("summary.ledger", "en", **fields) == "ledger: 1 posted, 2 unchanged, 3 adjusted"
    assert message("summary.ledger", "zh", **fields) == "账本：新记 1 笔，不变 2 笔，调整 3 笔"


def test_named_shows_the_code_beside_the_name_in_chinese():
    names = {"430700": "常德市", "430800": "张家界市"}.get
    lookup = lambda code: names(code) or code  # noqa: E731
    assert named("430700", lookup, "zh") == "常德市(430700)"
    assert named("430700", lookup, "en") == "常德市"
    assert named("430700, 430800", lookup, "zh") == "常德市(430700), 张家界市(430800)"
    assert named("999999", lookup, "zh") == "999999"
    assert named(None, lookup, "zh") == "-"
