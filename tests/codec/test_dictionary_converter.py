"""tools/convert_dictionaries.py: deterministic output equal to the committed specs; layout of groups."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO.parent / "shared" / "fix-dictionaries"
SPECS = REPO / "specs" / "fix"

needs_source = pytest.mark.skipif(
    not (SOURCE / "FIX42.xml").is_file() or not (SOURCE / "FIX44.xml").is_file(),
    reason="the source XML dictionaries (../shared/fix-dictionaries) are not beside the checkout",
)


@pytest.fixture(scope="module")
def converter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("convert_dictionaries", REPO / "tools" / "convert_dictionaries.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("convert_dictionaries", module)
    spec.loader.exec_module(module)
    return module


@needs_source
def test_converter_fresh_run_matches_committed_specs_byte_for_byte(converter: ModuleType, tmp_path: Path) -> None:
    assert converter.main([str(SOURCE), "--out", str(tmp_path)]) == 0
    for name in ("FIX42.json", "FIX44.json"):
        assert (tmp_path / name).read_bytes() == (SPECS / name).read_bytes(), f"{name}: regenerate specs"


@needs_source
def test_converter_two_runs_give_identical_bytes(converter: ModuleType, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    converter.write_all(SOURCE, first)
    converter.write_all(SOURCE, second)
    for name in ("FIX42.json", "FIX44.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_converter_committed_specs_are_valid_json_with_sorted_keys() -> None:
    for name in ("FIX42.json", "FIX44.json", "extensions.json"):
        text = (SPECS / name).read_text(encoding="utf-8")
        data = json.loads(text)
        assert data["format"] == 1
    for name in ("FIX42.json", "FIX44.json"):
        data = json.loads((SPECS / name).read_text(encoding="utf-8"))
        assert list(data) == sorted(data)
        numbers = [f["number"] for f in data["fields"]]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_converter_missing_source_exits_with_error(converter: ModuleType, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert converter.main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 1
    assert "not found" in capsys.readouterr().err


SMALL = """<fix type='FIX' major='4' minor='4' servicepack='0'>
 <header>
  <field name='BeginString' required='Y' />
 </header>
 <messages>
  <message name='Thing' msgtype='U1' msgcat='app'>
   <component name='Legs' required='Y' />
   <field name='Text' required='N' />
  </message>
 </messages>
 <trailer>
  <field name='CheckSum' required='Y' />
 </trailer>
 <components>
  <component name='Leg'>
   <field name='LegSymbol' required='Y' />
  </component>
  <component name='Legs'>
   <group name='NoLegs' required='Y'>
    <component name='Leg' required='Y' />
    <field name='LegSide' required='N' />
   </group>
  </component>
 </components>
 <fields>
  <field number='8' name='BeginString' type='STRING' />
  <field number='10' name='CheckSum' type='STRING' />
  <field number='58' name='Text' type='STRING' />
  <field number='600' name='LegSymbol' type='STRING' />
  <field number='624' name='LegSide' type='CHAR'>
   <value enum='1' description='BUY' />
   <value enum='2' description='SELL' />
  </field>
  <field number='555' name='NoLegs' type='NUMINGROUP' />
 </fields>
</fix>
"""


def test_converter_group_led_by_component_takes_its_first_field_as_delimiter(converter: ModuleType,
                                                                              tmp_path: Path) -> None:
    src = tmp_path / "FIX44.xml"
    src.write_text(SMALL)
    data = converter.convert_file(src)
    assert data["begin_string"] == "FIX.4.4"
    assert [f["number"] for f in data["fields"]] == [8, 10, 58, 555, 600, 624]
    assert data["fields"][-1]["values"] == [{"enum": "1", "description": "BUY"}, {"enum": "2", "description": "SELL"}]
    legs = {c["name"]: c["members"] for c in data["components"]}["Legs"]
    assert legs == [
        {
            "group": 555,
            "name": "NoLegs",
            "required": True,
            "delimiter": 600,
            "members": [{"component": "Leg", "required": True}, {"tag": 624, "name": "LegSide", "required": False}],
        }
    ]
    msg = data["messages"][0]
    assert (msg["msgtype"], msg["name"], msg["msgcat"]) == ("U1", "Thing", "app")


def test_converter_reference_to_undefined_field_fails(converter: ModuleType, tmp_path: Path) -> None:
    src = tmp_path / "FIX44.xml"
    src.write_text(SMALL.replace("<field name='Text' required='N' />", "<field name='Nope' required='N' />"))
    with pytest.raises(converter.ConversionError, match="Nope"):
        converter.convert_file(src)


def test_converter_small_dictionary_loads_and_validates(converter: ModuleType, tmp_path: Path) -> None:
    from fixgw.codec.dictionary import Dictionary
    from fixgw.errors import ValidationError

    src = tmp_path / "FIX44.xml"
    src.write_text(SMALL)
    d = Dictionary(json.loads(converter.dumps(converter.convert_file(src))))
    assert d.group_members(b"U1", 555) == {600, 624}

    class Msg:
        def __init__(self, fields: list[tuple[int, bytes]]) -> None:
            self.fields = fields

    head = [(8, b"FIX.4.4"), (9, b"1"), (35, b"U1")]
    d.validate(Msg(head + [(555, b"2"), (600, b"A"), (624, b"1"), (600, b"B"), (10, b"000")]))
    with pytest.raises(ValidationError) as info:
        d.validate(Msg(head + [(555, b"1"), (600, b"A"), (624, b"3"), (10, b"000")]))
    assert (info.value.reason, info.value.ref_tag) == (5, 624)
    with pytest.raises(ValidationError) as info:
        d.validate(Msg(head + [(58, b"x"), (10, b"000")]))
    assert (info.value.reason, info.value.ref_tag) == (1, 555)
