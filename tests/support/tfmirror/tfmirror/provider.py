"""A schema-only Terraform provider (plugin protocol 6) for offline validation.

It serves a compact schema written by tfmirror.schema, so that `terraform init`
(from a filesystem mirror), `terraform validate` and `terraform test` with
`mock_provider` work without the real provider.  The only provider-side check it
makes is "computed-only attributes cannot be set"; PlanResourceChange returns the
proposed state with unset computed attributes unknown, and every call that needs a
real API (apply, refresh, import, data sources) returns an error.

Usage (Terraform starts it through the mirror's wrapper script):
    python provider.py SCHEMA.json
The gRPC code for tfplugin6 and go-plugin comes from the `tf` package (PyPI, MIT).
"""

import base64
import datetime
import json
import os
import signal
import sys
import tempfile
import threading
from concurrent import futures

import grpc
import msgpack
from tf.gen import grpc_controller_pb2 as controller_pb
from tf.gen import grpc_controller_pb2_grpc as controller_rpc
from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
from tf.gen import tfplugin_pb2 as pb
from tf.gen import tfplugin_pb2_grpc as rpc

LIST = pb.Schema.NestedBlock.NestingMode.Value("LIST")
ERROR = pb.Diagnostic.Severity.Value("ERROR")
UNKNOWN = msgpack.ExtType(0, b"\0")  # how cty encodes an unknown value in msgpack
# providers that accept `provider_meta "NAME" { module_name = "..." }`
PROVIDER_META = {"hashicorp/google", "hashicorp/google-beta"}


def schema_block(structs, name, _path=()):
    """tfplugin6 Schema.Block for the struct `name` of a compact schema."""
    if name in _path:  # a few cdktf structs contain themselves: cut the cycle
        return pb.Schema.Block()
    _path += (name,)
    st = structs[name]
    attrs = [
        pb.Schema.Attribute(
            name=n,
            type=json.dumps(a["t"]).encode(),
            required=a["r"],
            optional=not a["r"],
            computed=a.get("oc", False),
        )
        for n, a in sorted(st["a"].items())
    ]
    attrs += [
        pb.Schema.Attribute(name=n, type=json.dumps(t).encode(), computed=True)
        for n, t in sorted(st["c"].items())
    ]
    blocks = [
        pb.Schema.NestedBlock(
            type_name=n,
            block=schema_block(structs, b["s"], _path),
            nesting=LIST,
            min_items=int(b["r"]),
            max_items=0 if b["m"] else 1,
        )
        for n, b in sorted(st["b"].items())
    ]
    return pb.Schema.Block(attributes=attrs, block_types=blocks)


def error(summary, detail="", path=()):
    """An error diagnostic, optionally pointing at an attribute path."""
    d = pb.Diagnostic(severity=ERROR, summary=summary, detail=detail)
    for p in path:
        d.attribute.steps.add(**{"attribute_name" if isinstance(p, str) else "element_key_int": p})
    return d


def unavailable(what):
    """Diagnostics for an operation that would need the real provider."""
    return [
        error(
            f"{what} needs the real provider",
            "This is a schema-only provider for offline checks: use `terraform validate`, "
            "or `terraform test` with mock_provider / override_resource / override_data.",
        )
    ]


class Provider(rpc.ProviderServicer):
    """tfplugin6.Provider backed by a compact schema."""

    def __init__(self, schema):
        self.s = schema
        self._schema = None

    def GetMetadata(self, request, context):
        return pb.GetMetadata.Response(
            server_capabilities=pb.ServerCapabilities(plan_destroy=False),
            resources=[pb.GetMetadata.ResourceMetadata(type_name=t) for t in self.s["resources"]],
            data_sources=[pb.GetMetadata.DataSourceMetadata(type_name=t) for t in self.s["data"]],
        )

    def GetProviderSchema(self, request, context):
        if self._schema is None:
            s, r = self.s, pb.GetProviderSchema.Response()
            cfg = s.get("provider_config")
            r.provider.block.CopyFrom(schema_block(s["structs"], cfg) if cfg else pb.Schema.Block())
            if s["provider"] in PROVIDER_META:
                r.provider_meta.block.CopyFrom(
                    pb.Schema.Block(
                        attributes=[
                            pb.Schema.Attribute(name="module_name", type=b'"string"', optional=True)
                        ]
                    )
                )
            for t, st in s["resources"].items():
                r.resource_schemas[t].block.CopyFrom(schema_block(s["structs"], st))
            for t, st in s["data"].items():
                r.data_source_schemas[t].block.CopyFrom(schema_block(s["structs"], st))
            self._schema = r
        return self._schema

    def _computed_set(self, name, value, path, diags, _seen=()):
        """Report computed-only attributes set in config (SDKv2 does it at validation)."""
        if not isinstance(value, dict) or name in _seen:
            return
        st = self.s["structs"][name]
        for attr in st["c"]:
            if value.get(attr) is not None:
                diags.append(
                    error(
                        "Value for unconfigurable attribute",
                        f'Can\'t configure a value for "{attr}": its value will be decided '
                        "automatically based on the result of applying this configuration.",
                        [*path, attr],
                    )
                )
        for block, b in st["b"].items():
            items = value.get(block)
            for i, item in enumerate(items if isinstance(items, list) else []):
                self._computed_set(b["s"], item, [*path, block, i], diags, (*_seen, name))

    def _validate(self, kind, request):
        diags = []
        struct = self.s[kind].get(request.type_name)
        if struct and request.config.msgpack:
            try:  # unknown values (msgpack extension) decode as None
                cfg = msgpack.unpackb(
                    request.config.msgpack, strict_map_key=False, ext_hook=lambda code, data: None
                )
            except (ValueError, TypeError):
                cfg = None
            self._computed_set(struct, cfg, [], diags)
        return diags

    def ValidateProviderConfig(self, request, context):
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request, context):
        return pb.ValidateResourceConfig.Response(diagnostics=self._validate("resources", request))

    def ValidateDataResourceConfig(self, request, context):
        return pb.ValidateDataResourceConfig.Response(diagnostics=self._validate("data", request))

    def ConfigureProvider(self, request, context):
        return pb.ConfigureProvider.Response()

    def UpgradeResourceState(self, request, context):
        return pb.UpgradeResourceState.Response(
            upgraded_state=pb.DynamicValue(json=request.raw_state.json)
        )

    def _unknown_computed(self, name, value, _seen=()):
        """Make null computed attributes unknown, as a real provider does when planning."""
        if not isinstance(value, dict) or name in _seen:
            return
        st = self.s["structs"][name]
        for attr in [*st["c"], *(n for n, a in st["a"].items() if a.get("oc"))]:
            if value.get(attr) is None:
                value[attr] = UNKNOWN
        for block, b in st["b"].items():
            items = value.get(block)
            for item in items if isinstance(items, list) else []:
                self._unknown_computed(b["s"], item, (*_seen, name))

    def PlanResourceChange(self, request, context):
        planned = request.proposed_new_state
        struct = self.s["resources"].get(request.type_name)
        if struct and planned.msgpack:
            value = msgpack.unpackb(planned.msgpack)  # unknown values stay ExtType
            if value is not None:  # None: planning a destroy
                self._unknown_computed(struct, value)
                planned = pb.DynamicValue(msgpack=msgpack.packb(value, use_bin_type=True))
        return pb.PlanResourceChange.Response(planned_state=planned)

    def ApplyResourceChange(self, request, context):
        return pb.ApplyResourceChange.Response(
            diagnostics=unavailable(f"Applying {request.type_name}")
        )

    def ReadResource(self, request, context):
        return pb.ReadResource.Response(diagnostics=unavailable(f"Reading {request.type_name}"))

    def ImportResourceState(self, request, context):
        return pb.ImportResourceState.Response(
            diagnostics=unavailable(f"Importing {request.type_name}")
        )

    def ReadDataSource(self, request, context):
        return pb.ReadDataSource.Response(
            diagnostics=unavailable(f"Reading data.{request.type_name}")
        )

    def GetFunctions(self, request, context):
        return pb.GetFunctions.Response()

    def StopProvider(self, request, context):
        return pb.StopProvider.Response()


def tls_credentials():
    """Self-signed server certificate for go-plugin AutoMTLS: (credentials, base64 DER)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    # Terraform's client certificate is not verified (as in the `tf` package); the socket
    # lives in a private temporary directory.
    creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], require_client_auth=False)
    der = cert.public_bytes(serialization.Encoding.DER)
    return creds, base64.b64encode(der).decode().rstrip("=")


def main():
    """Serve the schema given on the command line until Terraform shuts us down."""
    if "TF_PLUGIN_MAGIC_COOKIE" not in os.environ:
        print("This binary is a plugin. It is meant to be executed by Terraform.", file=sys.stderr)
        return 1
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Terraform handles Ctrl-C and shuts us down
    stop = threading.Event()

    class Controller(controller_rpc.GRPCControllerServicer):
        def Shutdown(self, request, context):
            stop.set()
            return controller_pb.Empty()

    class Stdio(stdio_rpc.GRPCStdioServicer):
        def StreamStdio(self, request, context):
            return iter([])

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[
            ("grpc.max_send_message_length", 256 << 20),
            ("grpc.max_receive_message_length", 256 << 20),
        ],
    )
    rpc.add_ProviderServicer_to_server(Provider(schema), server)
    controller_rpc.add_GRPCControllerServicer_to_server(Controller(), server)
    stdio_rpc.add_GRPCStdioServicer_to_server(Stdio(), server)
    with tempfile.TemporaryDirectory(prefix="tfmirror-plugin-") as tmp:
        address = "unix://" + os.path.join(tmp, "plugin.sock")
        if os.environ.get("PLUGIN_CLIENT_CERT"):  # AutoMTLS, Terraform's default
            creds, cert = tls_credentials()
            server.add_secure_port(address, creds)
        else:  # TF_DISABLE_PLUGIN_TLS=1
            server.add_insecure_port(address)
            cert = ""
        server.start()
        print(f"1|6|unix|{address[len('unix://') :]}|grpc|{cert}", flush=True)
        parent = os.getppid()
        while not stop.wait(0.5):
            if os.getppid() != parent:  # Terraform died without shutting us down
                break
        server.stop(grace=0.2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
