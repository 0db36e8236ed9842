"""How payloads and times read for people."""

from queueservice.operator.presentation import PREVIEW_BYTES, age, preview, relative


def test_json_payload_is_pretty_even_with_a_bom():
    assert preview(b'\xef\xbb\xbf{"a": 1}') == ("json", '{\n  "a": 1\n}')


def test_non_finite_numbers_are_not_shown_as_json():
    assert preview(b'{"k": 1e999}')[0] == "text"


def test_binary_payload_is_a_hex_dump_marked_when_cut():
    kind, text = preview(bytes(range(256)) * 20)
    assert kind == "hex" and text.startswith("00000000  00 01 02") and "more bytes not shown" in text
    assert text.count("\n") == PREVIEW_BYTES // 16


def test_relative_times_and_ages():
    assert relative(0, 1) == "-"
    assert relative(1_000_000, 181_000_000) == "3 min ago"
    assert relative(31_000_000, 1_000_000) == "in 30 s"
    assert age(1_000_000, 7_201_000_000) == "2 h"
