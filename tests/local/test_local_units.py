"""The local target without starting servers: config, ports, refusals, plan, URLs."""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from mlflowk8s import server
from mlflowk8s.errors import OperationError, UsageError
from mlflowk8s.lab import Lab
from mlflowk8s.lab.settings import Settings
from mlflowk8s.targets.local import ports as local_ports
from mlflowk8s.targets.local import settings as local_settings
from mlflowk8s.targets.local import supervisor as sv
from mlflowk8s.targets.local import target as local_target
from tests.conftest import Cli
from tests.local.conftest import free_base_port


def _program(tmp: Path, user: str = "alice", port: int = 5100) -> sv.Program:
    data = tmp / "data" / user
    command = server.launcher_command(user, server.LocalTarget(port, data))
    return sv.Program(
        name=f"mlflow-{user}",
        command=command.argv,
        env=command.env,
        directory=data,
        logfile=tmp / "logs" / f"mlflow-{user}.log",
    )


def test_config_parses_as_supervisord_reads_it(tmp_path: Path) -> None:
    """supervisord's own parser gets back the exact command, env and process-group settings."""
    from supervisor.datatypes import RestartUnconditionally
    from supervisor.options import ServerOptions

    root = tmp_path / "odd 100% dir" / "local"
    (root / "logs").mkdir(parents=True)
    program = _program(root)
    (root / "data" / "alice").mkdir(parents=True)
    conf = root / "supervisord.conf"
    conf.write_text(sv.render_config(sv.Layout(root), [program]))
    options = ServerOptions()
    options.realize(args=["-c", str(conf)])
    (group,) = options.process_group_configs
    (config,) = group.process_configs
    assert config.name == "mlflow-alice"
    assert shlex.split(config.command) == program.command
    assert " -m mlflowk8s.launcher " in config.command
    assert "forwarded-allow-ips" not in config.command  # no proxy in front of local servers
    assert config.environment == dict(program.env)
    assert config.directory == str(root / "data" / "alice")
    assert config.autorestart is RestartUnconditionally  # also after exit 0
    assert (config.stopasgroup, config.killasgroup) == (True, True)
    assert config.stdout_logfile == str(root / "logs" / "mlflow-alice.log")
    assert options.server_configs[0]["file"] == str(sv.Layout(root).socket)
    assert options.identifier == f"mlflowk8s:{root}"


def test_environment_quoting_and_refusals() -> None:
    assert sv._environment({"B": 'say "hi"', "A": "1,2"}) == 'A="1,2",B=\'say "hi"\''
    with pytest.raises(UsageError, match="both quote kinds"):
        sv._environment({"A": "'\""})
    with pytest.raises(UsageError, match="line break"):
        sv._value("a\nb")


def test_changed_section_changes_digest_others_do_not(tmp_path: Path) -> None:
    alice, bob = _program(tmp_path), _program(tmp_path, "bob", 5101)
    assert sv.section_digest(alice) == sv.section_digest(_program(tmp_path))
    assert sv.section_digest(alice) != sv.section_digest(_program(tmp_path, port=5102))
    assert sv.section_digest(bob) != sv.section_digest(alice)


def test_socket_of_a_deep_lab_goes_to_a_private_recorded_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflowk8s.targets.local import rundir

    shallow = sv.Layout(Path("/tmp/lab/.mlflowk8s/local"))
    assert shallow.socket == Path("/tmp/lab/.mlflowk8s/local/supervisor.sock")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    deep = sv.Layout(tmp_path / ("d" * 120) / ".mlflowk8s/local")
    assert not deep.root.exists() and deep.socket.parent == deep.root  # not chosen: plan
    socket_path = deep.choose_socket()
    assert not deep.socket.exists()
    assert len(str(socket_path)) <= sv.MAX_SOCKET_PATH
    # Not the name another account could have guessed and created first.
    digest = hashlib.sha256(str(deep.root).encode()).hexdigest()[:16]
    assert socket_path.parent != Path(tempfile.gettempdir())
    assert digest not in str(socket_path)
    assert rundir.is_private(socket_path.parent)
    assert (deep.root / "socket-dir").read_text() == f"{socket_path.parent}\n"
    assert sv.Layout(deep.root).socket == socket_path  # recorded: stable per lab
    assert sv.Layout(tmp_path / ("e" * 120)).choose_socket().parent != socket_path.parent
    # A recorded folder someone loosened is not used again.
    socket_path.parent.chmod(0o755)
    assert sv.Layout(deep.root).choose_socket().parent != socket_path.parent
    # The user's own runtime folder is preferred when there is one.
    runtime = Path(tempfile.mkdtemp(prefix="rt-"))  # short, like /run/user/UID
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    other = sv.Layout(tmp_path / ("f" * 120) / ".mlflowk8s/local")
    assert other.socket.parent.parent == runtime  # known before it is made
    assert rundir.is_private(other.choose_socket().parent)
    # A runtime folder others may enter is not used.
    runtime.chmod(0o777)
    loose = sv.Layout(tmp_path / ("g" * 120) / ".mlflowk8s/local")
    assert loose.choose_socket().parent.parent != runtime
    shutil.rmtree(runtime)


def test_the_socket_folder_refuses_a_symlink(tmp_path: Path) -> None:
    from mlflowk8s.targets.local import rundir

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(elsewhere)
    with pytest.raises(OperationError, match="not a private folder of this user"):
        rundir.make_private(tmp_path / "link")


def test_a_deep_lab_runs_supervisord_on_a_private_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real supervisord, started as apply starts it, on a lab path too long for a socket."""
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    layout = sv.Layout(tmp_path / ("d" * 110) / ".mlflowk8s" / "local")
    layout.root.mkdir(parents=True)
    layout.choose_socket()  # as apply does, under the lab lock, before rendering
    layout.conf.write_text(sv.render_config(layout, []))
    supervisor = sv.Supervisor(layout)
    supervisor.start_daemon()
    try:
        assert supervisor.is_running()
        assert layout.socket.is_socket()
        assert rundir_private(layout.socket.parent) and rundir_private(layout.root)
    finally:
        supervisor.shutdown()
    assert not supervisor.is_running()


def rundir_private(folder: Path) -> bool:
    from mlflowk8s.targets.local import rundir

    return rundir.is_private(folder)


def test_ports_are_stable_never_reused_and_skip_busy_ones() -> None:
    base = free_base_port()
    recorded = {"alice": base, "bob": base + 1}  # bob retired or purged: his port stays his
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", base + 2))
        busy.listen()
        ports = local_ports.allocate_ports(recorded, ["alice", "carol", "dave"], "127.0.0.1", base)
    assert ports == {"alice": base, "bob": base + 1, "carol": base + 3, "dave": base + 4}
    assert local_ports.allocate_ports(ports, ["carol"], "127.0.0.1", base) == ports


def test_damaged_ports_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "ports.json"
    path.write_text("{not json")
    with pytest.raises(OperationError, match=r"ports\.json is damaged"):
        local_ports.read_ports(path)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "localhost"])
def test_other_bind_addresses_are_refused(host: str, tmp_path: Path) -> None:
    settings = Settings(path=tmp_path / ".env", values={local_settings.HOST: host})
    with pytest.raises(UsageError, match="no authentication option for local servers yet"):
        local_settings.local_host(settings)


def _local_lab(cli: Cli, extra: str = "") -> None:
    assert cli("init", "--target", "local").code == 0
    with (cli.lab / ".env").open("a") as env:
        env.write(extra)


def test_refused_host_through_the_cli(cli: Cli) -> None:
    _local_lab(cli, "MLFLOWK8S_LOCAL_HOST=0.0.0.0\n")
    assert cli("add-user", "alice").code == 0
    result = cli("apply", "--yes")
    assert result.code == 2
    assert "MLFLOWK8S_LOCAL_HOST='0.0.0.0' is refused" in result.stderr
    assert "authentication" in result.stderr
    assert not (cli.lab / ".mlflowk8s" / "local").exists()


def test_bad_base_port_setting(cli: Cli) -> None:
    _local_lab(cli, "MLFLOWK8S_LOCAL_BASE_PORT=80\n")
    assert cli("add-user", "alice").code == 0
    result = cli("plan")
    assert result.code == 2
    assert "MLFLOWK8S_LOCAL_BASE_PORT='80'" in result.stderr
    assert "is not a number from 1024 to 65535" in result.stderr


def test_plan_shows_starts_and_writes_nothing(cli: Cli) -> None:
    base = free_base_port()
    _local_lab(cli, f"MLFLOWK8S_LOCAL_BASE_PORT={base}\n")
    for name in ("alice", "bob"):
        assert cli("add-user", name).code == 0  # no --member needed on a local lab
    assert cli("remove-user", "bob").code == 0
    assert cli("add-user", "carol").code == 0
    plan = json.loads(cli("plan", "--json").stdout)
    assert plan == {
        "changes": [
            {"root": "processes", "action": "start", "user": "alice",
             "address": f"mlflow-alice (127.0.0.1:{base})"},
            {"root": "processes", "action": "start", "user": "carol",
             "address": f"mlflow-carol (127.0.0.1:{base + 1})"},
        ],
        "counts": {"processes": {"start": 2}},
        "notes": ["supervisord is not running: apply starts it, and with it the server of "
                  "every active user."],
    }  # fmt: skip
    work = cli.lab / ".mlflowk8s"
    assert not (work / "local").exists()
    status = json.loads(cli("status", "--json").stdout)
    assert [(t["name"], t["url"], t["state"], t["healthy"]) for t in status["tenants"]] == [
        ("alice", "", "not started", False),  # checkable here: no server is not healthy
        ("bob", "", "retired", None),
        ("carol", "", "not started", False),
    ]
    assert status["facts"]["supervisord"] == "not running"


def test_tenant_url_for_the_env_command(cli: Cli) -> None:
    _local_lab(cli)
    assert cli("add-user", "alice").code == 0
    assert cli("add-user", "bob").code == 0
    with pytest.raises(UsageError, match="no local server yet: run `mlflowk8s apply`"):
        local_target.LocalTarget(Lab(cli.lab)).tenant_url("alice")
    root = local_target.local_dir(cli.lab)
    root.mkdir(parents=True)
    (root / "ports.json").write_text(json.dumps({"ports": {"alice": 5107, "bob": 5108}}))
    assert (
        local_target.LocalTarget(Lab(cli.lab)).tenant_url("alice") == "http://127.0.0.1:5107/alice/"
    )
    assert cli("remove-user", "bob").code == 0
    with pytest.raises(UsageError, match="retired"):
        local_target.LocalTarget(Lab(cli.lab)).tenant_url("bob")
    with pytest.raises(UsageError, match="no user 'zoe'"):
        local_target.LocalTarget(Lab(cli.lab)).tenant_url("zoe")
    assert local_target.local_dir(cli.lab, "dev") == cli.lab.resolve() / ".mlflowk8s" / "local-dev"


def test_destroy_needs_the_folder_name_and_purge_removes_data(cli: Cli) -> None:
    _local_lab(cli)
    assert cli("add-user", "alice").code == 0
    result = cli("destroy")
    assert result.code == 2 and "destroy needs confirmation" in result.stderr
    assert local_target.LocalTarget(Lab(cli.lab)).destroy_confirmation_word() == "lab"
    data = local_target.local_dir(cli.lab) / "data" / "alice"
    data.mkdir(parents=True)
    (data / "mlflow.db").write_text("")
    result = cli("remove-user", "alice", "--purge", "--yes")
    assert result.code == 0, result.stderr
    assert not data.exists()
    assert cli("destroy", "--yes").stdout.endswith("Destroyed.\n")


def test_environments_of_one_lab_never_share_a_port(cli: Cli) -> None:
    base = free_base_port()
    _local_lab(cli, f"MLFLOWK8S_LOCAL_BASE_PORT={base}\n")
    assert cli("add-user", "alice").code == 0
    assert cli("add-user", "bob").code == 0
    # What apply of the default environment records (it gave alice and bob their ports).
    default = local_target.local_dir(cli.lab)
    default.mkdir(parents=True)
    (default / "ports.json").write_text(
        json.dumps({"version": 1, "host": "127.0.0.1", "ports": {"alice": base, "bob": base + 1}})
    )
    plan = json.loads(cli("--env", "dev", "plan", "--json").stdout)
    assert [c["address"] for c in plan["changes"]] == [
        f"mlflow-alice (127.0.0.1:{base + 2})",
        f"mlflow-bob (127.0.0.1:{base + 3})",
    ]
    assert json.loads(cli("plan", "--json").stdout)["changes"][0]["address"] == (
        f"mlflow-alice (127.0.0.1:{base})"
    )


def test_init_and_status_say_every_local_account_can_reach_the_tenants(cli: Cli) -> None:
    line = (
        "every account on this machine can read, change and delete every tenant's runs over "
        "HTTP (127.0.0.1 has no sign-in)"
    )
    result = cli("init", "--target", "local")
    assert result.stdout.splitlines()[-1] == (
        f"Note: {line}. Next: `mlflowk8s add-user NAME`, then `mlflowk8s apply`."
    )
    assert f"access: {line}\n" in cli("status", "--no-health").stdout
    assert json.loads(cli("status", "--json").stdout)["facts"]["access"] == line
