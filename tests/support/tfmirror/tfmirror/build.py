"""Lay out OUTDIR: a venv for the schema-only provider, compact schemas extracted from
pinned cdktn wheels, a Terraform filesystem mirror of wrapper scripts and a CLI config.

Each step is skipped when its output is already current, so re-running is cheap.
Only OUTDIR and temporary directories are written.
"""

import argparse
import concurrent.futures
import fcntl
import glob
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from tfmirror import schema

TOOL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENTS = os.path.join(TOOL_DIR, "requirements.txt")
PROVIDER_PY = os.path.join(TOOL_DIR, "tfmirror", "provider.py")
PIP_OPTS = [
    "--disable-pip-version-check",
    "--no-cache-dir",
    "--only-binary=:all:",
    "--no-deps",
    "--quiet",
]


@dataclass(frozen=True)
class Provider:
    pin: str  # the PyPI wheel whose jsii assembly holds the schema
    source: str  # Terraform provider source address
    version: str  # provider version that wheel was generated from

    @property
    def name(self):
        return self.source.split("/")[1]


# Largest first: schemas are extracted in parallel.
PROVIDERS = (
    Provider("cdktn-provider-google-beta==21.1.0", "hashicorp/google-beta", "8.7.0"),
    Provider("cdktn-provider-google==21.1.0", "hashicorp/google", "8.7.0"),
    Provider("cdktn-provider-kubernetes==17.1.0", "hashicorp/kubernetes", "3.4.0"),
    Provider("cdktn-provider-postgresql==15.0.0", "cyrilgdn/postgresql", "1.27.0"),
    Provider("cdktn-provider-random==15.0.1", "hashicorp/random", "3.9.1"),
)


def run(cmd, env=None):
    """Run a command; on failure exit with its output."""
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.exit(f"tfmirror: {shlex.join(cmd)} failed ({r.returncode}):\n{r.stdout}")


def write_if_changed(path, text, mode=0o644):
    """Write text to path unless it already holds exactly that."""
    try:
        with open(path) as f:
            if f.read() == text and (os.stat(path).st_mode & 0o777) == mode:
                return
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def prepare_venv(venv, python):
    """Create the venv unless current; return the stamp to write once packages are in, or None."""
    with open(REQUIREMENTS) as f:
        stamp = f"# base python: {python}\n{f.read()}"
    py = os.path.join(venv, "bin", "python")
    try:
        with open(os.path.join(venv, "tfmirror-stamp")) as f:
            if f.read() == stamp and os.access(py, os.X_OK):
                return None
    except FileNotFoundError:
        pass
    shutil.rmtree(venv, ignore_errors=True)
    run([python, "-m", "venv", venv])
    run(
        [
            py,
            "-c",
            "import sys; sys.version_info < (3, 11) and sys.exit("
            "'tf 1.2.0 needs Python 3.11+, not ' + sys.version)",
        ]
    )
    return stamp


def install_packages(venv, stamp):
    """Install exactly the pinned requirements, check them, then stamp the venv."""
    py = os.path.join(venv, "bin", "python")
    run([py, "-m", "pip", "install", *PIP_OPTS, "-r", REQUIREMENTS])
    run([py, "-m", "pip", "check", "--disable-pip-version-check"])
    write_if_changed(os.path.join(venv, "tfmirror-stamp"), stamp)


def current_schema(path, p):
    """The schema at path if it was built by this code from p's pin, else None."""
    try:
        with open(path) as f:
            s = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    same = (s.get("format"), s.get("source"), s.get("provider"), s.get("version"))
    return s if same == (schema.FORMAT, p.pin, p.source, p.version) else None


def build_schema(p, py, tmp, dest):
    """Download p's wheel to tmp, extract its schema to dest, delete the wheel."""
    d = tempfile.mkdtemp(dir=tmp)
    run([py, "-m", "pip", "download", *PIP_OPTS, "--dest", d, p.pin])
    (wheel,) = glob.glob(os.path.join(d, "*.whl"))
    part = f"{dest}.{os.getpid()}.tmp"
    run(
        [sys.executable, "-B", "-m", "tfmirror.schema", wheel, part, p.pin],
        env=dict(os.environ, PYTHONPATH=TOOL_DIR),
    )
    shutil.rmtree(d)
    s = current_schema(part, p)
    if s is None:
        os.remove(part)
        sys.exit(f"tfmirror: {p.pin} does not describe {p.source} {p.version}")
    os.replace(part, dest)
    return s


def schema_path(outdir, p):
    return os.path.join(outdir, "schemas", f"{p.name}_v{p.version}.json")


def wrapper(p, outdir):
    """Executable that Terraform runs as terraform-provider-NAME_vVERSION."""
    cmd = shlex.join(
        [
            os.path.join(outdir, "venv", "bin", "python"),
            "-I",
            os.path.join(outdir, "lib", "provider.py"),
            schema_path(outdir, p),
        ]
    )
    return f"#!/bin/sh\n# {p.source} {p.version}, schema only, from {p.pin}\nexec {cmd}\n"


def tf_platform():
    """Terraform's name for this platform, e.g. linux_amd64."""
    arch = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch)
    return f"{platform.system().lower()}_{arch}"


def prune(top, keep):
    """Remove every file under top that is not in keep, then empty directories."""
    for root, _, files in os.walk(top, topdown=False):
        for f in files:
            if os.path.join(root, f) not in keep:
                os.remove(os.path.join(root, f))
        if root != top and not os.listdir(root):
            os.rmdir(root)


def lay_out_mirror(mirror, outdir):
    """Write the wrappers into the unpacked mirror layout; remove anything else."""
    want = {}
    for p in PROVIDERS:
        rel = os.path.join(
            "registry.terraform.io",
            p.source,
            p.version,
            tf_platform(),
            f"terraform-provider-{p.name}_v{p.version}",
        )
        want[os.path.join(mirror, rel)] = wrapper(p, outdir)
    for path, text in want.items():
        write_if_changed(path, text, 0o755)
    prune(mirror, want)


def terraformrc(mirror):
    """CLI config that installs every provider from the mirror and nothing from the network."""
    return (
        "# Generated by tfmirror. No `direct` method: Terraform never contacts a registry.\n"
        "disable_checkpoint = true\n\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path = {json.dumps(mirror)}\n"
        "  }\n"
        "}\n"
    )


def build_all(outdir, python):
    """Bring the venv and every schema up to date, in parallel; {provider: (schema, built)}."""
    venv = os.path.join(outdir, "venv")
    stamp = prepare_venv(venv, python)
    py = os.path.join(venv, "bin", "python")
    out, jobs = {}, {}
    with (
        tempfile.TemporaryDirectory(prefix="tfmirror-build-") as tmp,
        concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool,
    ):
        if stamp:
            jobs[pool.submit(install_packages, venv, stamp)] = None
        for p in PROVIDERS:
            s = current_schema(schema_path(outdir, p), p)
            if s is None:
                jobs[pool.submit(build_schema, p, py, tmp, schema_path(outdir, p))] = p
            else:
                out[p] = (s, False)
        for job in concurrent.futures.as_completed(jobs):
            if jobs[job] is None:
                job.result()
            else:
                out[jobs[job]] = (job.result(), True)
    prune(os.path.join(outdir, "schemas"), {schema_path(outdir, p) for p in PROVIDERS})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="build", description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", help="directory to create or update")
    ap.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter (3.11+) for the venv (default: %(default)s)",
    )
    args = ap.parse_args(argv)
    outdir = os.path.abspath(args.outdir)
    marker = os.path.join(outdir, ".tfmirror")
    if os.path.isdir(outdir) and os.listdir(outdir) and not os.path.exists(marker):
        sys.exit(f"tfmirror: {outdir} exists and was not made by tfmirror; not touching it")
    os.makedirs(os.path.join(outdir, "schemas"), exist_ok=True)
    with open(marker, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time per OUTDIR
        schemas = build_all(outdir, args.python)
        with open(PROVIDER_PY) as f:
            write_if_changed(os.path.join(outdir, "lib", "provider.py"), f.read())
        mirror = os.path.join(outdir, "mirror")
        lay_out_mirror(mirror, outdir)
        write_if_changed(os.path.join(outdir, "terraformrc"), terraformrc(mirror))
    for p in sorted(PROVIDERS, key=lambda p: (p.source, p.version)):
        s, built = schemas[p]
        print(
            f"{p.source} {p.version}  ({p.pin}: {len(s['resources'])} resources, "
            f"{len(s['data'])} data sources; {'built' if built else 'up to date'})"
        )
    print(f"TF_CLI_CONFIG_FILE={os.path.join(outdir, 'terraformrc')}", file=sys.stderr)
    return 0
