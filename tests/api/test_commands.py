"""The service's commands, run as a user runs them (the installed ``escalation`` script)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, text, update

from api.services import trials
from api.services.admin import create_key
from api.storage.db import Database
from api.storage.models import AuditEntry, AuditHead
from tests.api.conftest import PgSchema, new_database_url
from tests.api.tampering import audit_triggers_off
from tests.conftest import EXAMPLE


def run(script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script in a subprocess (about a second of start-up each)."""
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """The same command in this process (``escalation.cli.main``, plugins loaded as installed)."""
    from escalation.cli import main

    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out.out, out.err)


def test_keys_create_list_revoke(
    console_script: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    out = run(
        console_script,
        "keys",
        "create",
        "--role",
        "src",
        "--name",
        "SRC chair",
        "--database-url",
        url,
        "--json",
    )
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert created["key"].startswith("esk_") and created["role"] == "src"
    db = Database(url)
    from api.services.admin import authenticate

    assert authenticate(db, created["key"]) is not None
    listed = json.loads(cli(capsys, "keys", "list", "--database-url", url, "--json").stdout)
    assert [k["name"] for k in listed["items"]] == ["SRC chair"]
    assert "key" not in listed["items"][0]
    revoked = cli(capsys, "keys", "revoke", str(created["id"]), "--database-url", url)
    assert revoked.returncode == 0 and "revoked key 1" in revoked.stdout
    assert authenticate(db, created["key"]) is None
    again = cli(capsys, "keys", "revoke", str(created["id"]), "--database-url", url)
    assert again.returncode == 2 and "already revoked" in again.stderr
    with pytest.raises(SystemExit):
        cli(capsys, "keys", "create", "--role", "king", "--name", "x", "--database-url", url)
    assert "invalid choice" in capsys.readouterr().err
    db.dispose()


def audited_database(url: str) -> Database:
    """A database with a few audit entries: a key, a trial, three patients."""
    db = Database(url)
    db.migrate()
    create_key(db, role="admin", name="a", actor="test")
    doc = json.loads(EXAMPLE.read_text())
    trial = trials.create_trial(
        db, {k: doc[k] for k in ("design", "doses", "dlt_window_days")}, actor="test"
    )
    for p in doc["patients"][:3]:
        body = {k: v for k, v in p.items() if k != "id"}
        trials.upsert_patient(db, trial.id, p["id"], body, if_match=None, actor="test")
    return db  # entries 1 (key), 2 (trial), 3-5 (patients)


INTACT = "audit chain intact: 5 entries verified, 5 data rows agree with them\n"


def test_audit_verify_console_script(console_script: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    db = audited_database(url)
    intact = run(console_script, "audit", "verify", "--database-url", url)
    assert (intact.returncode, intact.stdout) == (0, INTACT)
    with db.write() as s, audit_triggers_off(s):  # the record of P003 quietly given a DLT
        entry = s.scalars(select(AuditEntry).where(AuditEntry.seq == 5)).one()
        assert entry.after["id"] == "P003" and entry.after["dlt"] is False
        entry.after = dict(entry.after) | {"dlt": True, "dlt_on": "2026-02-10"}
        s.flush()
    db.dispose()
    broken = run(console_script, "audit", "verify", "--database-url", url)
    assert broken.returncode == 1
    assert broken.stderr.startswith(
        "audit chain BROKEN at entry 5: content altered (its hash does not match)\n"
    )


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    ("tamper", "bad_entry", "reason"),
    [
        ("alter", 3, "content altered"),
        ("delete", 2, "missing"),
        ("delete-last", 5, "missing"),
        ("rehash", 3, "its MAC does not match"),
    ],
)
def test_audit_verify_catches_altered_and_deleted_rows(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    pg_schemas: list[PgSchema],
    kind: str,
    tamper: str,
    bad_entry: int,
    reason: str,
) -> None:
    url = new_database_url(kind, tmp_path, pg_schemas)
    db = audited_database(url)
    intact = cli(capsys, "audit", "verify", "--database-url", url)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout == INTACT
    with db.write() as s, audit_triggers_off(s):
        if tamper == "alter":
            s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(actor="someone else"))
        elif tamper == "delete":
            s.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
        elif tamper == "delete-last":
            s.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
        else:  # altered and re-hashed: the next entry no longer links to it
            from api.storage.audit import entry_hash

            entry = s.scalars(select(AuditEntry).where(AuditEntry.seq == 3)).one()
            entry.after = {"dlt": True}
            entry.hash = entry_hash(entry)
        s.flush()
    db.dispose()
    broken = cli(capsys, "audit", "verify", "--database-url", url, "--json")
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert report["intact"] is False and report["first_bad_entry"] == bad_entry
    assert reason in report["problem"]
    assert f"audit chain BROKEN at entry {bad_entry}: {reason}" in broken.stderr


def test_audit_verify_catches_a_truncated_head(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    db = audited_database(url)
    with db.write() as s, audit_triggers_off(s):
        # remove the last entry and move the head back: caught by the head hash
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
        s.execute(update(AuditHead).values(last_seq=4))
    db.dispose()
    out = cli(capsys, "audit", "verify", "--database-url", url)
    assert out.returncode == 1 and "entry 4" in out.stderr


def test_audit_head_and_verify_with_the_recorded_head(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The head printed by `audit head`, recorded outside, shows a tail cut with its data."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    db = audited_database(url)
    head = cli(capsys, "audit", "head", "--database-url", url)
    assert head.returncode == 0 and head.stdout.startswith("5:") and len(head.stdout) == 67
    anchored = cli(capsys, "audit", "verify", "--database-url", url, "--head", head.stdout)
    assert anchored.returncode == 0 and "recorded head 5:" in anchored.stdout
    with db.write() as s, audit_triggers_off(s):  # P003 and its entry gone, the head rewound
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
        s.execute(text("DELETE FROM patients WHERE patient_id = 'P003'"))
        last = s.scalars(select(AuditEntry.hash).where(AuditEntry.seq == 4)).one()
        s.execute(update(AuditHead).values(last_seq=4, last_hash=last))
    db.dispose()
    assert cli(capsys, "audit", "verify", "--database-url", url).returncode == 0
    out = cli(capsys, "audit", "verify", "--database-url", url, "--head", head.stdout.strip())
    assert out.returncode == 1 and "entries were removed" in out.stderr
    bad = cli(capsys, "audit", "verify", "--database-url", url, "--head", "5:abc")
    assert bad.returncode == 2 and "not an audit head" in bad.stderr


def test_audit_verify_without_the_key_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    audited_database(url).dispose()
    monkeypatch.delenv("ESCALATION_AUDIT_KEY")
    monkeypatch.setenv("ESCALATION_AUDIT_KEY_FILE", str(tmp_path / "absent.key"))
    out = cli(capsys, "audit", "verify", "--database-url", url)
    assert out.returncode == 2 and "no audit key" in out.stderr


def test_audit_verify_on_no_database_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = cli(capsys, "audit", "verify", "--database-url", f"sqlite:///{tmp_path / 'none.db'}")
    assert out.returncode == 2 and "no database at" in out.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_demo(console_script: str, cwd: Path) -> tuple[list[str], dict[str, Any]]:
    """Run ``escalation serve --demo`` until it answers, read what it printed, stop it."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            console_script,
            "serve",
            "--port",
            str(port),
            "--demo",
            str(EXAMPLE),
            "--log-level",
            "warning",
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        key = None
        lines = []
        assert proc.stdout is not None
        while key is None:
            line = proc.stdout.readline()
            lines.append(line.rstrip("\n"))
            if line.startswith("demo key (role src): "):
                key = line.split(": ", 1)[1].strip()
        headers = {"Authorization": f"Bearer {key}"}
        base = f"http://127.0.0.1:{port}"
        state = {
            "trials": httpx.get(f"{base}/v1/trials", headers=headers).json()["items"],
            "recommendation": httpx.get(
                f"{base}/v1/trials/1/recommendation",
                params={"as_of": "2026-08-20"},
                headers=headers,
            ).json(),
        }
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    return lines, state


def test_serve_demo_is_idempotent(console_script: str, tmp_path: Path) -> None:
    """`make run` twice: the second start loads nothing new and leaves one active demo key."""
    from api.demo import load_demo_trial, rotate_demo_key
    from api.services.admin import list_keys

    env_url = os.environ.pop("ESCALATION_DATABASE_URL", None)
    try:
        lines, served = serve_demo(console_script, tmp_path)
    finally:
        if env_url is not None:
            os.environ["ESCALATION_DATABASE_URL"] = env_url
    assert (tmp_path / "var" / "escalation.db").exists()  # the default database
    assert lines[0].startswith("escalation service on http://127.0.0.1:")
    assert "(12 patient records loaded or changed)" in lines[1]
    assert [t["n_patients"] for t in served["trials"]] == [12]
    assert served["recommendation"]["decision"]["next_dose"] == 3
    # the second start does what `serve --demo` does before serving
    db = Database(f"sqlite:///{tmp_path / 'var' / 'escalation.db'}")
    assert load_demo_trial(db, EXAMPLE, actor="test") == (1, 0)
    rotate_demo_key(db, actor="test")
    keys, _ = list_keys(db)
    with db.read() as s:
        from api.storage.models import Trial

        assert len(s.scalars(select(Trial)).all()) == 1
    db.dispose()
    assert [k.revoked_at is None for k in keys] == [False, True]  # the old demo key revoked


@pytest.mark.parametrize("demo", [True, False], ids=["demo", "plain"])
def test_serve_on_a_busy_port_says_so_before_printing_a_url_or_key(
    console_script: str, tmp_path: Path, demo: bool
) -> None:
    """A port already taken: one line naming it and how to choose another, exit 2, nothing on
    stdout (no URL, no demo key) and no database made."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k != "ESCALATION_DATABASE_URL"}
        out = subprocess.run(
            [console_script, "serve", "--port", str(port)]
            + (["--demo", str(EXAMPLE)] if demo else []),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env=env,
        )
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr == (
        f"error: port {port} on 127.0.0.1 is already in use; "
        "choose another with --port (make run PORT=...)\n"
    )
    assert not (tmp_path / "var").exists()


def test_serve_refuses_a_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    out = cli(capsys, "serve", "--port", "70000")
    assert out.returncode == 2 and out.stdout == ""
    assert "port 70000 is not a TCP port" in out.stderr


def test_make_run_passes_its_port_to_serve() -> None:
    """`make run PORT=8080` serves on 8080 (make -n prints the command without running it)."""
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        ["make", "-n", "run", "PORT=8080"], capture_output=True, text=True, cwd=repo, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "escalation serve --demo examples/lcar_aio_example.json --port 8080" in out.stdout
