"""Copy the cases of R escalation's tests/testthat/test_three_plus_three.R into JSON.

Run once by hand (not by the test suite) on a clone of https://github.com/brockk/escalation:

    python tests/data/extract_three_plus_three_cases.py /path/to/escalation/repo COMMIT \
        > tests/data/three_plus_three_r_cases.json

Every call of ``three_plus_three(outcomes, num_doses, allow_deescalate, ...)`` or of a
``get_three_plus_three(num_doses, allow_deescalate) %>% fit(outcomes)`` model, followed by the
test's expectations on the recommended dose and on ``continue``, becomes one case. Calls wrapped in
``expect_error`` (R's strict mode, which refuses paths that left the algorithm) are listed apart.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

PATH = "tests/testthat/test_three_plus_three.R"


_EVENT = re.compile(
    r"get_three_plus_three\((?P<model>[^)]*)\)"
    r"|(?P<error>expect_error\()?(?:x <- )?(?<![_\w])three_plus_three\(\s*(?:outcomes = )?"
    r"'(?P<outcomes>[^']*)'(?P<args>[^)]*)\)"
    r"|%>% fit\('(?P<fit>[^']*)'\)"
    r"|expect_true\(is\.na\((?:x\$recommended_dose|fit %>% recommended_dose\(\))\)\)"
    r"|expect_equal\((?:x\$recommended_dose|fit %>% recommended_dose\(\)), "
    r"(?P<dose>\d+|as\.integer\(NA\))\)"
    r"|expect_(?P<cont_tf>true|false)\(fit %>% continue\(\)\)"
    r"|expect_equal\(x\$continue, (?P<cont>TRUE|FALSE)\)"
)


def extract(text: str) -> dict[str, list[dict[str, object]]]:
    """The cases, in the order of the file (comments dropped, whitespace normalized)."""
    lines = ("" if raw.strip().startswith("#") else raw for raw in text.splitlines())
    flat = " ".join(" ".join(lines).split())
    cases: list[dict[str, object]] = []
    errors: list[dict[str, object]] = []
    model: dict[str, object] = {"num_doses": None, "allow_deescalate": False}
    current: dict[str, object] | None = None
    for m in _EVENT.finditer(flat):
        g = m.groupdict()
        if g["model"] is not None:
            n = re.search(r"num_doses = (\d+)", g["model"])
            model = {
                "num_doses": int(n.group(1)) if n else None,
                "allow_deescalate": "allow_deescalate = TRUE" in g["model"],
            }
            continue
        if g["outcomes"] is not None:
            n = re.search(r"num_doses = (\d+)", g["args"])
            case = {
                "outcomes": g["outcomes"],
                "num_doses": int(n.group(1)) if n else None,
                "allow_deescalate": "allow_deescalate = TRUE" in g["args"],
            }
            if g["error"]:
                errors.append(case)
                current = None
            else:
                current = case
            continue
        if g["fit"] is not None:
            current = {"outcomes": g["fit"], **model}
            continue
        if current is None:
            continue
        if g["cont_tf"] is not None or g["cont"] is not None:
            current["continue"] = g["cont_tf"] == "true" or g["cont"] == "TRUE"
        elif g["dose"] is not None and g["dose"].isdigit():
            current["recommended_dose"] = int(g["dose"])
        else:
            current["recommended_dose"] = None
        if "recommended_dose" in current and "continue" in current:
            if current not in cases:
                cases.append(dict(current))
            current = {k: current[k] for k in ("outcomes", "num_doses", "allow_deescalate")}
    return {"cases": cases, "strict_mode_errors": errors}


def main() -> None:
    repo, commit = sys.argv[1], sys.argv[2]
    text = subprocess.run(
        ["git", "-C", repo, "show", f"{commit}:{PATH}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    out = extract(text)
    meta = {
        "source": f"https://github.com/brockk/escalation/blob/{commit}/{PATH}",
        "repository": "brockk/escalation",
        "commit": commit,
        "file": PATH,
        "made_by": "tests/data/extract_three_plus_three_cases.py (the test file's own cases, "
        "copied; R was not run)",
        "notes": "outcomes in R escalation's phase-1 notation: '1NNT 2N' = cohort 1 at dose 1 "
        "(no DLT, no DLT, DLT), then one patient at dose 2 without DLT. recommended_dose null = R's "
        "NA (no dose). num_doses null: the R call names none (5 doses are tested).",
    }
    sys.stdout.write(json.dumps({"meta": meta, **out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
