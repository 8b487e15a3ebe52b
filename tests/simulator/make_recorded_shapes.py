"""Summarise real recorded backup jobs into tests/fixtures/recorded-job-shapes.json.

    python tests/simulator/make_recorded_shapes.py PATH/TO/azure-recordings/backup-jobs.jsonl

The recordings (4,128 jobs answered by the live service to azure-cli and .NET SDK tests, 2016 to 2024)
live outside the repo; the tests read only this summary: per jobType and operation, how many jobs had
each key (in total and per status), the forms of values (job_shapes.py) and the recorded list items.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from job_shapes import fraction_digits, job_shape  # run as a script: this directory is on sys.path

OUTPUT = Path(__file__).resolve().parents[1] / "fixtures" / "recorded-job-shapes.json"


def _count(counter: dict, keys: list[str]) -> None:
    for key in keys:
        counter[key] = counter.get(key, 0) + 1


def summarise(lines: list[dict]) -> dict:
    pairs: dict[str, dict] = {}
    digits: Counter = Counter()
    for line in lines:
        job, properties = line["job"], line["job"]["properties"]
        shape = job_shape(job, line.get("original_id"))
        for field in ("startTime", "endTime"):
            if isinstance(properties.get(field), str):
                digits[str(fraction_digits(properties[field]))] += 1
        pair = pairs.setdefault(
            f"{properties['jobType']}|{properties['operation']}",
            {
                "jobs": 0,
                "keys": {},
                "extendedInfo": {},
                "propertyBag": {},
                "forms": {},
                "sizes": {},
                "errorDetails": [],
                "ids": [],
                "tasks": [],
                "statuses": {},
                "list": {"jobs": 0, "keys": {}},
            },
        )
        if line["recorded_as"] == "list":
            pair["list"]["jobs"] += 1
            _count(pair["list"]["keys"], shape["keys"])
            # a list item has the keys of the GET but extendedInfo: it counts for the forms below
        else:
            pair["jobs"] += 1
            _count(pair["keys"], shape["keys"])
            _count(pair["extendedInfo"], shape.get("extendedInfo", []))
            _count(pair["propertyBag"], shape.get("propertyBag", []))
            status = pair["statuses"].setdefault(
                properties["status"], {"jobs": 0, "keys": {}, "propertyBag": {}}
            )
            status["jobs"] += 1
            _count(status["keys"], shape["keys"])
            _count(status["propertyBag"], shape.get("propertyBag", []))
            for field, form in shape.get("sizes", {}).items():
                pair["sizes"].setdefault(field, [])
                if form not in pair["sizes"][field]:
                    pair["sizes"][field].append(form)
            pair["tasks"] = sorted(set(pair["tasks"]) | set(shape.get("tasks", [])))
        for field, form in shape["forms"].items():
            forms = pair["forms"].setdefault(field, [])
            if form not in forms:
                forms.append(form)
        pair["errorDetails"] = sorted(set(pair["errorDetails"]) | set(shape["errorDetails"]))
        pair["ids"] = sorted(set(pair["ids"]) | {shape["id"]})
    for pair in pairs.values():
        for forms in (*pair["forms"].values(), *pair["sizes"].values()):
            forms.sort()
    return {
        "source": "/work/shared/azure-recordings/backup-jobs.jsonl (real responses recorded by azure-cli and "
        ".NET SDK tests, 2016-2024; see that folder's README.md), summarised by "
        "tests/simulator/make_recorded_shapes.py",
        "fraction_digits": dict(sorted(digits.items())),
        "pairs": dict(sorted(pairs.items())),
    }


def main(path: str) -> None:
    with open(path, encoding="utf-8") as source:
        lines = [json.loads(text) for text in source if text.strip()]
    OUTPUT.write_text(json.dumps(summarise(lines), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{OUTPUT}: {len(lines)} jobs")


if __name__ == "__main__":
    main(sys.argv[1])
