"""Every spoken line lives in helpline.voice.prompts, in English and Spanish."""

from __future__ import annotations

import string

from helpline.voice.prompts import PROMPTS, prompt


def test_every_prompt_key_has_english_and_spanish_text():
    assert set(PROMPTS) == {"en", "es"}
    assert set(PROMPTS["en"]) == set(PROMPTS["es"]), set(PROMPTS["en"]) ^ set(PROMPTS["es"])
    for language, lines in PROMPTS.items():
        for key, text in lines.items():
            assert text.strip(), (language, key)


def test_spanish_and_english_lines_take_the_same_placeholders():
    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for key, text in PROMPTS["en"].items():
        assert fields(text) == fields(PROMPTS["es"][key]), key


def test_a_language_we_do_not_speak_gets_english():
    assert prompt("fr", "goodbye") == PROMPTS["en"]["goodbye"]


def test_the_voice_views_and_callback_flow_speak_no_line_of_their_own():
    """Spoken lines are not written in the views: a new one without Spanish would slip past the key test."""
    from pathlib import Path

    import helpline.voice.callback as callback
    import helpline.voice.inbound as inbound

    for module in (inbound, callback):
        source = Path(str(module.__file__)).read_text()
        for line in ("Goodbye.", "Connecting you now.", "could not reach", "No key was pressed"):
            assert line not in source, (module.__name__, line)
