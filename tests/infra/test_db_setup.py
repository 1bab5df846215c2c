"""modules/tenant/db_setup.py against a real PostgreSQL set up like Cloud SQL.

Stands in for Cloud SQL: a `cloudsqlsuperuser` role that is no superuser, IAM-style login
roles (`<account>@<project>.iam`, no password: local TCP is trusted as the Auth Proxy's
IAM sign-in is), tenant databases owned by cloudsqlsuperuser, as google_sql_database
makes them. The setup script, MLflow's migrations and MLflow's store are the real ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.conftest import INFRA
from tests.support.postgres import Postgres, postgres

pytestmark = pytest.mark.slow  # a real PostgreSQL server and real MLflow migrations

SETUP = INFRA / "modules" / "tenant" / "db_setup.py"
ADMIN = "mlflow-dba-default@lab-project.iam"
TENANTS = {"a": "mlf-a-4a5b@lab-project.iam", "b": "mlf-b-4a5b@lab-project.iam"}


@pytest.fixture(scope="module")
def cloud_sql() -> Iterator[Postgres]:
    with postgres() as db:
        db.sql("CREATE ROLE cloudsqlsuperuser NOLOGIN NOSUPERUSER CREATEDB CREATEROLE")
        db.sql(f'CREATE ROLE "{ADMIN}" LOGIN IN ROLE cloudsqlsuperuser')
        for name, user in TENANTS.items():
            db.sql(f'CREATE ROLE "{user}" LOGIN')
            db.sql(f"CREATE DATABASE mlflow_{name} OWNER cloudsqlsuperuser")
        yield db


def setup(
    db: Postgres, database: str, tenant: str, admin: str = ADMIN
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ADMIN_DB_USER": admin,
        "TENANT_DATABASE": database,
        "TENANT_DB_USER": tenant,
        "DB_PROXY_PORT": str(db.port),
    }
    return subprocess.run(
        [sys.executable, "-c", SETUP.read_text()],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def store_uri(db: Postgres, user: str, database: str) -> str:
    return f"postgresql+psycopg2://{urllib.parse.quote(user)}@127.0.0.1:{db.port}/{database}"


def test_each_tenant_reaches_only_its_own_database(cloud_sql: Postgres) -> None:
    for name, user in TENANTS.items():
        result = setup(cloud_sql, f"mlflow_{name}", user)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"database mlflow_{name}: access for {user} only\n"

    assert (
        cloud_sql.sql("SELECT current_user", user=TENANTS["a"], dbname="mlflow_a") == TENANTS["a"]
    )
    for user, other in ((TENANTS["a"], "mlflow_b"), (TENANTS["b"], "mlflow_a")):
        with pytest.raises(subprocess.CalledProcessError) as denied:
            cloud_sql.sql("SELECT 1", user=user, dbname=other)
        assert f'permission denied for database "{other}"' in denied.value.stderr

    # Another login role (a built-in user, say) gets no way in either.
    cloud_sql.sql('CREATE ROLE "someone@lab-project.iam" LOGIN')
    with pytest.raises(subprocess.CalledProcessError):
        cloud_sql.sql("SELECT 1", user="someone@lab-project.iam", dbname="mlflow_a")

    # Running again (re-adding a tenant) changes nothing and succeeds.
    again = setup(cloud_sql, "mlflow_a", TENANTS["a"])
    assert again.returncode == 0, again.stderr


def test_the_tenant_migrates_and_logs_a_run(cloud_sql: Postgres, tmp_path: Path) -> None:
    assert setup(cloud_sql, "mlflow_a", TENANTS["a"]).returncode == 0
    uri = store_uri(cloud_sql, TENANTS["a"], "mlflow_a")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "HOME": str(tmp_path)}
    mlflow = Path(sys.executable).parent / "mlflow"
    upgrade = subprocess.run(
        [str(mlflow), "db", "upgrade", uri], env=env, capture_output=True, text=True, timeout=600
    )
    assert upgrade.returncode == 0, upgrade.stderr[-3000:]
    script = (
        "import sys, mlflow\n"
        "client = mlflow.MlflowClient(tracking_uri=sys.argv[1])\n"
        "experiment = client.create_experiment('isolation', artifact_location=sys.argv[2])\n"
        "run = client.create_run(experiment)\n"
        "client.log_metric(run.info.run_id, 'loss', 0.5)\n"
        "print(client.get_run(run.info.run_id).data.metrics['loss'])\n"
    )
    logged = subprocess.run(
        [sys.executable, "-c", script, uri, (tmp_path / "artifacts").as_uri()],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert logged.returncode == 0, logged.stderr[-3000:]
    assert logged.stdout.strip().splitlines()[-1] == "0.5"
    owner = cloud_sql.sql(
        "SELECT tableowner FROM pg_tables WHERE tablename = 'runs'", dbname="mlflow_a"
    )
    assert owner == TENANTS["a"]


def test_an_admin_without_the_owner_role_fails_naming_the_database(cloud_sql: Postgres) -> None:
    cloud_sql.sql('CREATE ROLE "outsider@lab-project.iam" LOGIN')
    cloud_sql.sql('CREATE ROLE "mlf-c-4a5b@lab-project.iam" LOGIN')
    cloud_sql.sql("CREATE DATABASE mlflow_c OWNER cloudsqlsuperuser")

    result = setup(
        cloud_sql, "mlflow_c", "mlf-c-4a5b@lab-project.iam", admin="outsider@lab-project.iam"
    )

    assert result.returncode == 1
    assert result.stderr.startswith("database mlflow_c: isolation is not in place (")
    assert "PUBLIC still has CONNECT on the database" in result.stderr
    assert "must be or inherit the database's owner (cloudsqlsuperuser)" in result.stderr
    # PostgreSQL only warned: PUBLIC can still connect, which is what the exit code reports.
    assert cloud_sql.sql("SELECT 1", user="someone@lab-project.iam", dbname="mlflow_c") == "1"
