"""The Keptn corpus (../shared/corpus/keptn, MANIFEST.tsv): what Keptn accepted must give no
errors, and every file Keptn rejected or misread must get a finding that names the reason
the manifest's note gives. The file list comes from the manifest alone."""
from __future__ import annotations

import csv
import re
from pathlib import Path

from reconciler.spec.kinds import detect_kind
from reconciler.spec.validate import check_document, validate_document
from tests.support import shared

# note text (regex) → (finding code, text the finding's message must contain or None)
REASONS: list[tuple[str, str, str | None]] = [
    (r"legacy pre-0\.2 shipyard", "legacy-shipyard", None),
    (r"legacy pre-0\.1\.4 remediation", "legacy-remediation", None),
    (r"scaling value 1 not a string", "scaling-value", "YAML number"),
    (r"total_score\.pass missing", "missing-total-score", None),
    (r"no objectives", "no-objectives", None),
    (r"actions is dict, expected list", "wrong-type", "`actions` must be a list"),
    (r"apiVersion missing", "missing-key", "`apiVersion`"),
    (r"unknown action key event", "unknown-key", "`event`"),
    (r"unknown action key jsonpath", "unknown-key", "`jsonpath`"),
    (r"task\.cmd must be a list", "wrong-type", "cmd` must be a list"),
    (r"mis-indented", "selector-misindented", "`result`"),
    (r"'triggers'", "legacy-triggers", "`triggers:`"),
    (r"bad stage name '([a-z_]+)'", "invalid-stage-name", None),
    # notes on files Keptn accepts but that do not do what they seem to
    (r"dangling triggeredOn", "trigger-unknown-stage", None),
    (r"approval task without properties", "approval-waits", None),
    (r"triggeredOn '[^']+' references unknown sequence", "trigger-unknown-stage", None),
]


def _rows(shared: Path) -> list[dict]:
    with open(shared / "corpus/keptn/MANIFEST.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _noted(row: dict) -> bool:
    return row["expected"] == "invalid" or any(re.search(p, row["note"]) for p, _, _ in REASONS)


def pytest_generate_tests(metafunc):
    for name, keep in (("row", lambda r: True),
                       ("noted_row", _noted),
                       ("valid_row", lambda r: r["expected"] == "valid" and r["kind"] != "other")):
        if name in metafunc.fixturenames:
            if shared.missing():        # one placeholder: the shared_dir fixture skips it (fails in CI)
                metafunc.parametrize(name, [None], ids=["shared-missing"])
                continue
            rows = [r for r in _rows(shared.shared_path()) if keep(r)]
            metafunc.parametrize(name, rows, ids=[r["local_path"] for r in rows])


def _findings(shared_dir: Path, row: dict):
    path = shared_dir / "corpus/keptn" / row["local_path"]
    return validate_document(path.read_bytes(), name=row["local_path"])


def test_manifest_is_not_empty(shared_dir):
    rows = _rows(shared_dir)
    assert len(rows) > 100
    assert {"valid", "invalid"} == {r["expected"] for r in rows}


def test_verdict_matches_keptn(shared_dir, row):
    findings = _findings(shared_dir, row)
    errors = [f for f in findings if f.severity == "error"]
    if row["expected"] == "valid":
        assert errors == [], "\n".join(f.human() for f in errors)
    else:
        assert findings, f"no finding for a file Keptn rejects or misreads: {row['note']}"


def test_findings_name_the_noted_problem(shared_dir, noted_row):
    row = noted_row
    reasons = [(m, code, text) for pattern, code, text in REASONS for m in re.finditer(pattern, row["note"])]
    assert reasons, f"the test has no expected code for this note; extend REASONS: {row['note']}"
    findings = _findings(shared_dir, row)
    for match, code, text in reasons:
        hits = [f for f in findings if f.code == code and (text is None or text in f.message)]
        if match.groups():     # a name from the note must appear in the finding
            hits = [f for f in hits if match.group(1) in f.message]
        assert hits, f"expected {code} for {match.group(0)!r}; got " + "; ".join(f.human() for f in findings)


def test_kind_detection_agrees_with_manifest(shared_dir, row):
    if row["kind"] == "other":
        result = check_document((shared_dir / "corpus/keptn" / row["local_path"]).read_bytes(), None,
                                row["local_path"])
        assert result.kind is None and [i.code for i in result.issues] == ["unknown-kind"]
        return
    from reconciler.spec.yamltext import load_document
    data = load_document((shared_dir / "corpus/keptn" / row["local_path"]).read_bytes()).data
    assert detect_kind(row["local_path"], data) == row["kind"]


def test_valid_documents_build_models(shared_dir, valid_row):
    row = valid_row
    result = check_document((shared_dir / "corpus/keptn" / row["local_path"]).read_bytes(), None, row["local_path"])
    assert result.kind == row["kind"]
    assert result.model is not None
