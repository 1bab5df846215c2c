"""Per-tenant database setup, run by the DB admin IAM user through the Cloud SQL Auth Proxy.

The database itself is created by Terraform (google_sql_database, owned by
cloudsqlsuperuser); this gives the tenant's IAM user its database and takes it away from
everyone else. Idempotent.
"""
import os
import time

import psycopg2
from psycopg2 import sql

admin = os.environ["ADMIN_DB_USER"]
database = os.environ["TENANT_DATABASE"]
tenant = os.environ["TENANT_DB_USER"]


def connect(dbname):
    for attempt in range(30):
        try:
            conn = psycopg2.connect(host="127.0.0.1", port=5432, user=admin, dbname=dbname)
            conn.autocommit = True
            return conn
        except psycopg2.OperationalError:
            if attempt == 29:
                raise
            time.sleep(2)


db, role = sql.Identifier(database), sql.Identifier(tenant)
with connect("postgres") as conn, conn.cursor() as cur:
    cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    cur.execute(sql.SQL("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {} TO {}").format(db, role))
with connect(database) as conn, conn.cursor() as cur:
    cur.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"))
    cur.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(role))
print(f"database {database}: access for {tenant} only")
