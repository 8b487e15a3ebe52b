"""`jobs watch`: from an operation URL (or a job) to the job's end, live on a terminal, in stable lines
otherwise, with an exit status that says how it ended; never touching the job itself."""

from __future__ import annotations

import re

import pytest

from .conftest import Sim, Spawned, Terminal, run

LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z (operation|job) [0-9a-f-]{36} \w+")


def test_a_terminal_shows_the_operation_then_the_job_live_and_the_exit_status_says_failed(sim: Sim) -> None:
    vault = sim.add_vault("rsv-live")
    started = sim.start_operation(vault)
    terminal = Terminal(
        sim, "watch", "--operation", started["headers"]["Location"], "--poll-interval", "200ms"
    )

    terminal.expect(f"operation {started['operation_id']} InProgress")
    terminal.expect(f"Succeeded: job {started['job_id']}")
    shown = terminal.expect("Transfer data to vault")
    assert "Backup of vm-web-01 in vault rsv-live" in shown
    assert "elapsed" in shown and "Take Snapshot" in shown
    sim.advance(900)  # the snapshot is taken, the transfer runs: the frame is redrawn in place
    shown = terminal.expect("Transfer data to vault  InProgress")
    assert "\x1b[" in shown and "F\x1b[J" in shown, "the frame is redrawn, not appended"
    assert re.search(r"\[#+-*\]\s+\d+\.\d%", shown), "a bar where Azure reports a percentage"
    sim.finish(started["job_id"], "Failed")

    assert terminal.wait() == 1
    assert "Backup of vm-web-01: Failed after" in terminal.text


def test_without_a_terminal_the_output_is_timestamped_lines_and_completed_exits_0(sim: Sim) -> None:
    vault = sim.add_vault("rsv-lines")
    started = sim.start_operation(vault)
    watch = Spawned(sim, "watch", "--operation", started["headers"]["Azure-AsyncOperation"],
                    "--poll-interval", "200ms")  # fmt: skip
    wait_for_job_polled(sim)
    sim.advance(900)
    sim.finish(started["job_id"], "Completed")

    code, out, err = watch.wait()
    assert code == 0, err
    lines = out.splitlines()
    assert "\x1b" not in out
    assert all(LINE.match(line) for line in lines[:-1]), out
    assert lines[0].endswith(f"operation {started['operation_id']} InProgress")
    assert lines[1].endswith(f"operation {started['operation_id']} Succeeded: job {started['job_id']}")
    assert any(" InProgress" in line and "; tasks: Take Snapshot " in line for line in lines)
    assert re.fullmatch(
        r"Backup of vm-web-01: Completed after \d+:\d\d:\d\d, size [\d.]+ [KMGT]iB", lines[-1]
    )
    assert len(lines) == len(set(line[21:] for line in lines)), "a line only when something changed"


def wait_for_job_polled(sim: Sim) -> None:
    """Until the watcher has read the job once (the simulator counts each route it answered)."""
    from support.net import wait_until

    wait_until(lambda: sim.requests().get("get_job", 0) >= 1, timeout=60, what="the job's first poll")


@pytest.mark.parametrize(
    ("status", "code"),
    [("Completed", 0), ("CompletedWithWarnings", 3), ("Failed", 1), ("Cancelled", 4)],
)
def test_the_exit_status_says_how_the_job_ended(sim: Sim, status: str, code: int) -> None:
    vault = sim.add_vault("rsv-exit")
    job = sim.add_job(vault, "vm-web-01", status="InProgress")
    watch = Spawned(sim, "watch", job["id"], "--poll-interval", "200ms")
    wait_for_job_polled(sim)
    sim.finish(job["name"], status)

    returned, out, err = watch.wait()
    assert returned == code, err
    assert out.splitlines()[-1].startswith(f"Backup of vm-web-01: {status} after")


def test_a_bare_job_id_is_found_in_whichever_configured_vault_has_it(sim: Sim) -> None:
    vaults = [sim.add_vault(f"rsv-{n}") for n in range(3)]
    job = sim.add_job(vaults[2], "vm-web-01", status="Completed")
    args = [arg for vault in vaults for arg in ("--vault", vault)]

    result = run(sim, "watch", job["name"], *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("Backup of vm-web-01: Completed after")


def test_timeout_exits_5_and_leaves_the_job_running(sim: Sim) -> None:
    vault = sim.add_vault("rsv-slow")
    job = sim.add_job(vault, "vm-web-01", status="InProgress")

    result = run(sim, "watch", job["id"], "--timeout", "1s", "--poll-interval", "200ms")
    assert result.returncode == 5
    assert result.stderr.strip().endswith("still running after --timeout 1s; it goes on in Azure")
    assert "cancel_job" not in sim.requests()


def test_ctrl_c_stops_watching_never_the_job(sim: Sim) -> None:
    vault = sim.add_vault("rsv-ctrlc")
    started = sim.start_operation(vault)
    terminal = Terminal(
        sim, "watch", "--operation", started["headers"]["Location"], "--poll-interval", "200ms"
    )
    terminal.expect("Transfer data to vault")
    terminal.interrupt()

    assert terminal.wait() == 130
    assert "the job itself goes on in Azure" in terminal.text
    job = run(sim, "show", started["job_id"], "--vault", vault, "-o", "json")
    assert '"status": "InProgress"' in job.stdout
    assert "cancel_job" not in sim.requests()


def test_an_operation_url_on_another_host_is_refused_before_any_request(sim: Sim) -> None:
    vault = sim.add_vault("rsv-host")
    started = sim.start_operation(vault)
    elsewhere = started["headers"]["Location"].replace(sim.arm, "https://attacker.example")

    result = run(sim, "watch", "--operation", elsewhere)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "azure-backup-exporter: --operation: https://attacker.example is not the ARM"
    )
    assert "refusing to send the token there" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "token" not in sim.requests() and "operation_status" not in sim.requests()


def test_an_expired_operation_is_named_as_such(sim: Sim) -> None:
    vault = sim.add_vault("rsv-old")
    started = sim.start_operation(vault)
    sim.advance(25 * 3600)

    result = run(sim, "watch", "--operation", started["headers"]["Azure-AsyncOperation"])
    assert result.returncode == 6
    assert f"operation {started['operation_id']} not found in vault rsv-old" in result.stderr
    assert "it has expired" in result.stderr


def test_missing_permission_names_the_role_that_grants_it(sim: Sim) -> None:
    vault = sim.add_vault("rsv-locked")
    started = sim.start_operation(vault)
    sim.control("faults", {"revoked_vaults": [vault]})

    result = run(sim, "watch", "--operation", started["headers"]["Location"])
    assert result.returncode == 6
    message = result.stderr.strip()
    assert "permission denied (AuthorizationFailed)" in message
    assert "Backup Reader role" in message and len(message.splitlines()) == 1


def test_a_url_that_names_no_operation_is_a_usage_error(sim: Sim) -> None:
    result = run(sim, "watch", "--operation", "https://management.azure.com/subscriptions/x/whatever")
    assert result.returncode == 2
    assert "--operation: expected the Location or Azure-AsyncOperation URL" in result.stderr
