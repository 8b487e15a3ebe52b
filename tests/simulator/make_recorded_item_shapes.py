"""Summarise real recorded protected items into tests/fixtures/recorded-item-shapes.json.

    python tests/simulator/make_recorded_item_shapes.py tests/fixtures/azure-recordings/protected-items.jsonl

The recordings (3,945 states of 1,043 protected items answered by the live service to azure-cli and .NET
SDK tests, 2016 to 2024; tests/fixtures/azure-recordings/README.md) are summarised per
`protectedItemType`: how many states had each key (and each extendedInfo key), the forms of their values
(item_shapes.py: time formats and sentinels, the enum values seen) and the shapes of healthDetails. The
simulator's tests read only this summary.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from item_shapes import item_shape  # run as a script: this directory is on sys.path

OUTPUT = Path(__file__).resolve().parents[1] / "fixtures" / "recorded-item-shapes.json"


def _count(counter: dict, keys: list[str]) -> None:
    for key in keys:
        counter[key] = counter.get(key, 0) + 1


def _add_forms(forms: dict, shape_forms: dict) -> None:
    for field, form in shape_forms.items():
        seen = forms.setdefault(field, [])
        if form not in seen:
            seen.append(form)


def summarise(lines: list[dict]) -> dict:
    types: dict[str, dict] = {}
    for line in lines:
        item = line["item"]
        shape = item_shape(item)
        summary = types.setdefault(
            item["properties"]["protectedItemType"],
            {"items": 0, "keys": {}, "forms": {}, "extendedInfo": {}, "infoForms": {}, "healthDetails": []},
        )
        summary["items"] += 1
        _count(summary["keys"], shape["keys"])
        _count(summary["extendedInfo"], shape["extendedInfo"])
        _add_forms(summary["forms"], shape["forms"])
        _add_forms(summary["infoForms"], shape["infoForms"])
        summary["healthDetails"] = sorted(set(summary["healthDetails"]) | set(shape["healthDetails"]))
    for summary in types.values():
        for forms in (*summary["forms"].values(), *summary["infoForms"].values()):
            forms.sort()
    return {
        "source": "tests/fixtures/azure-recordings/protected-items.jsonl (a copy of the shared reference "
        "folder's azure-recordings/: real responses recorded by azure-cli and .NET SDK tests, 2016-2024; "
        "see README.md there), every recorded state of every item, summarised by "
        "tests/simulator/make_recorded_item_shapes.py",
        "types": dict(sorted(types.items())),
    }


def main(path: str) -> None:
    with open(path, encoding="utf-8") as source:
        lines = [json.loads(text) for text in source if text.strip()]
    OUTPUT.write_text(json.dumps(summarise(lines), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{OUTPUT}: {len(lines)} item states")


if __name__ == "__main__":
    main(sys.argv[1])
