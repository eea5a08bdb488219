"""load_dictionary: contents of the FIX 4.2/4.4 dictionaries, extensions, caching and loader errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fixgw.codec import DEFAULT_DATA_TAGS, encode
from fixgw.codec import _parser as pure_parser
from fixgw.codec.dictionary import Dictionary, default_specs_dir, load_dictionary
from fixgw.errors import ConfigError, ValidationError

SPECS = Path(__file__).resolve().parents[2] / "specs" / "fix"


def test_dictionary_side_enums_both_versions_hold_buy_and_sell() -> None:
    for version in ("FIX.4.2", "FIX.4.4"):
        side = load_dictionary(version).field(54)
        assert side is not None and side.name == "Side" and side.type == "CHAR"
        assert side.values[b"1"] == "BUY" and side.values[b"2"] == "SELL"
    # Lend/borrow sides came with 4.4.
    assert b"G" in load_dictionary("FIX.4.4").field(54).values
    assert b"G" not in load_dictionary("FIX.4.2").field(54).values


def test_dictionary_new_order_single_required_fields_differ_between_versions() -> None:
    nos42 = load_dictionary("FIX.4.2").message_types[b"D"]
    nos44 = load_dictionary("FIX.4.4").message_types[b"D"]
    assert nos42.name == nos44.name == "NewOrderSingle"
    assert set(nos42.required) == {11, 21, 55, 54, 60, 40}
    assert set(nos44.required) == {11, 54, 60, 40}


def test_dictionary_parties_group_exists_in_44_only() -> None:
    d44 = load_dictionary("FIX.4.4")
    assert d44.group_members(b"D", 453) == {448, 447, 452, 802, 523, 803}
    group = d44.message_types[b"D"].top[453][1]
    assert group is not None and group.delimiter == 448 and group.fields[802] is not None
    assert load_dictionary("FIX.4.2").group_members(b"D", 453) == frozenset()
    assert load_dictionary("FIX.4.2").field(453) is None


def test_dictionary_group_members_unknown_message_or_count_tag_gives_empty_set() -> None:
    d = load_dictionary("FIX.4.4")
    assert d.group_members(b"ZZ", 453) == frozenset()
    assert d.group_members(b"D", 55) == frozenset()


def test_dictionary_header_group_and_trailer_are_shared_by_every_message() -> None:
    d = load_dictionary("FIX.4.4")
    assert [m.tag for m in d.header[:3]] == [8, 9, 35]
    assert [m.tag for m in d.trailer] == [93, 89, 10]
    assert d.group_members(b"0", 627) == {628, 629, 630}
    assert d.group_members(b"D", 627) == {628, 629, 630}


def test_dictionary_admin_and_app_message_categories_match_fix() -> None:
    for version in ("FIX.4.2", "FIX.4.4"):
        d = load_dictionary(version)
        assert all(d.is_admin(t) for t in (b"0", b"1", b"2", b"3", b"4", b"5", b"A"))
        assert not any(d.is_admin(t) for t in (b"D", b"8", b"j"))
        assert not d.is_admin(b"ZZ") and not d.has_msg_type(b"ZZ")
    assert load_dictionary("FIX.4.4").has_msg_type(b"AF")
    assert not load_dictionary("FIX.4.2").has_msg_type(b"AF")


def test_dictionary_data_tags_pair_length_and_data_fields() -> None:
    for version in ("FIX.4.2", "FIX.4.4"):
        d = load_dictionary(version)
        assert d.data_tags[95] == 96 and d.data_tags[93] == 89 and d.data_tags[354] == 355
        for length, data in d.data_tags.items():
            assert d.field(length).type == "LENGTH" and d.field(data).type == "DATA"
        # Every DATA field of the version has its LENGTH field.
        data_fields = {t for t, f in d.fields.items() if f.type == "DATA"}
        assert data_fields == set(d.data_tags.values())
    # The parser's built-in pairs agree with the dictionaries.
    d44 = load_dictionary("FIX.4.4")
    assert {k: d44.data_tags[k] for k in DEFAULT_DATA_TAGS} == dict(DEFAULT_DATA_TAGS)


def test_dictionary_gateway_message_subset_comes_from_extensions() -> None:
    d42, d44 = load_dictionary("FIX.4.2"), load_dictionary("FIX.4.4")
    assert d44.inbound_app_types == {b"D", b"F", b"G", b"H", b"q", b"AF"}
    assert d44.outbound_app_types == {b"8", b"9", b"r", b"j"}
    assert d42.inbound_app_types == {b"D", b"F", b"G", b"H"}
    assert d42.outbound_app_types == {b"8", b"9", b"j"}
    for d in (d42, d44):
        assert all(d.has_msg_type(t) and not d.is_admin(t) for t in d.inbound_app_types | d.outbound_app_types)


def test_dictionary_load_twice_returns_cached_object() -> None:
    assert load_dictionary("FIX.4.4") is load_dictionary(b"FIX.4.4")
    assert load_dictionary("FIX.4.2") is not load_dictionary("FIX.4.4")


def test_dictionary_unknown_version_raises_config_error() -> None:
    with pytest.raises(ConfigError):
        load_dictionary("FIX.5.0")


def test_dictionary_missing_specs_dir_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_dictionary("FIX.4.4", tmp_path / "nowhere")


def test_dictionary_env_override_reads_custom_field_from_extensions(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(SPECS / "FIX44.json", tmp_path / "FIX44.json")
    ext = json.loads((SPECS / "extensions.json").read_text())
    ext["custom_fields"] = [
        {"number": 5001, "name": "VenueAccount", "type": "CHAR", "messages": ["D"], "versions": ["FIX.4.4"],
         "values": [{"enum": "S", "description": "SPOT"}, {"enum": "M", "description": "MARGIN"}]}
    ]
    (tmp_path / "extensions.json").write_text(json.dumps(ext))
    monkeypatch.setenv("FIXGW_SPECS_DIR", str(tmp_path))
    assert default_specs_dir() == tmp_path
    d = load_dictionary("FIX.4.4")
    assert d is not load_dictionary("FIX.4.4", SPECS)
    assert d.field(5001).name == "VenueAccount"
    body = [(49, "C"), (56, "G"), (34, 2), (52, "20240305-14:30:15"), (11, "o"), (54, "1"),
            (60, "20240305-14:30:15"), (38, "1")]

    def msg(mt: str, extra: list) -> object:
        p = pure_parser.Parser()
        p.feed(encode("FIX.4.4", mt, body + extra))
        return next(iter(p))

    d.validate(msg("D", [(40, "1"), (5001, "M")]))
    with pytest.raises(ValidationError) as info:
        d.validate(msg("D", [(40, "1"), (5001, "X")]))
    assert (info.value.reason, info.value.ref_tag) == (5, 5001)
    d.validate(msg("F", [(41, "o0")]))
    with pytest.raises(ValidationError) as info:
        d.validate(msg("F", [(41, "o0"), (5001, "M")]))
    assert (info.value.reason, info.value.ref_tag) == (2, 5001)


def test_dictionary_extension_naming_unknown_message_type_raises_config_error() -> None:
    spec = json.loads((SPECS / "FIX42.json").read_text())
    ext = {"custom_fields": [], "gateway_messages": {"FIX.4.2": {"inbound": ["AF"], "outbound": []}}}
    with pytest.raises(ConfigError):
        Dictionary(spec, ext)


def test_dictionary_malformed_json_raises_config_error(tmp_path: Path) -> None:
    (tmp_path / "FIX42.json").write_text("{not json")
    with pytest.raises(ConfigError):
        load_dictionary("FIX.4.2", tmp_path)
