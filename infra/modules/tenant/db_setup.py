"""Per-tenant database setup, run by the DB admin IAM user through the Cloud SQL Auth Proxy.

The database itself is created by Terraform (google_sql_database, owned by
cloudsqlsuperuser); this gives the tenant's IAM user its database and takes it away from
everyone else. Idempotent.

PostgreSQL turns a REVOKE/GRANT by a role that is not (and does not inherit) the owner
into a warning and carries on: the result is checked afterwards, and the setup fails,
naming the database, when isolation is not in place.
"""
import os
import sys
import time

import psycopg2
from psycopg2 import sql

admin = os.environ["ADMIN_DB_USER"]
database = os.environ["TENANT_DATABASE"]
tenant = os.environ["TENANT_DB_USER"]
# The Auth Proxy sidecar listens on 127.0.0.1:5432; tests point this at their own server.
port = int(os.environ.get("DB_PROXY_PORT", "5432"))


def connect(dbname):
    for attempt in range(30):
        try:
            conn = psycopg2.connect(host="127.0.0.1", port=port, user=admin, dbname=dbname)
            conn.autocommit = True
            return conn
        except psycopg2.OperationalError:
            if attempt == 29:
                raise
            time.sleep(2)


def holds(cur, query, *args):
    cur.execute(query, args)
    return bool(cur.fetchone()[0])


db, role = sql.Identifier(database), sql.Identifier(tenant)
problems = []
with connect("postgres") as conn, conn.cursor() as cur:
    cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    cur.execute(sql.SQL("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {} TO {}").format(db, role))
    for privilege in ("CONNECT", "CREATE", "TEMPORARY"):
        if holds(cur, "SELECT has_database_privilege('public', %s, %s)", database, privilege):
            problems.append(f"PUBLIC still has {privilege} on the database")
    for privilege in ("CONNECT", "CREATE"):
        if not holds(cur, "SELECT has_database_privilege(%s, %s, %s)", tenant, database, privilege):
            problems.append(f"{tenant} lacks {privilege} on the database")
if not problems:
    with connect(database) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"))
        cur.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(role))
        for privilege in ("USAGE", "CREATE"):
            if holds(cur, "SELECT has_schema_privilege('public', 'public', %s)", privilege):
                problems.append(f"PUBLIC still has {privilege} on schema public")
            if not holds(cur, "SELECT has_schema_privilege(%s, 'public', %s)", tenant, privilege):
                problems.append(f"{tenant} lacks {privilege} on schema public")
if problems:
    sys.exit(
        f"database {database}: isolation is not in place ({'; '.join(problems)}); "
        f"{admin} must be or inherit the database's owner (cloudsqlsuperuser)"
    )
print(f"database {database}: access for {tenant} only")
