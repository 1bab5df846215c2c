"""Extract a compact Terraform provider schema from a cdktn/cdktf prebuilt-provider wheel.

The wheels carry a jsii assembly (``_jsii/*.jsii.tgz`` -> ``package/.jsii``) that
describes the configuration struct of every resource and data source.  Each struct
property's docs link to the Terraform Registry anchor with the original snake_case
argument name, and the bundled ``lib/**/*.js`` has a
``// name - computed: x, optional: y, required: z`` comment above every getter,
which gives the computed-only attributes.

Output (JSON; struct names are jsii fqns without the package prefix)::

    {"format": 1, "source": PIN, "provider": "hashicorp/google", "version": "8.7.0",
     "provider_config": STRUCT, "resources": {TYPE: STRUCT}, "data": {TYPE: STRUCT},
     "structs": {STRUCT: {
         "a": {NAME: {"t": CTY_TYPE, "r": required, "oc": optional_and_computed}},
         "b": {NAME: {"s": STRUCT, "r": required, "m": more_than_one_allowed}},
         "c": {NAME: CTY_TYPE}}}}          # computed-only attributes

Usage: python -m tfmirror.schema WHEEL OUT.json [PIN]   (PIN: the wheel's pip requirement)
"""

import io
import json
import re
import sys
import tarfile
import zipfile

FORMAT = 1

ANCHOR = re.compile(r"/docs/(?:resources|data-sources)/[A-Za-z0-9_]+#([A-Za-z0-9_]+) ")
CLASS_DOC = re.compile(
    r"registry\.terraform\.io/providers/[^/]+/[^/]+/[^/]+/docs/"
    r"(?:resources|data-sources)/\S+ (\S+)\}"
)
PROVIDER_DOC = re.compile(r"registry\.terraform\.io/providers/([^/]+)/([^/]+)/([^/]+)/docs ")

JS_CLASS = re.compile(r"^class (\w+) ")
JS_ATTR = re.compile(
    r"^\s*// ([A-Za-z0-9_]+) - computed: (true|false), "
    r"optional: (true|false), required: (true|false)$"
)
JS_GET = re.compile(r"^\s*get (\w+)\(\)")
# complex attributes are created in the constructor (`this._ipAddress = new XList(this, ...)`)
# or, in newer builds, declared as class fields (`_ipAddress = new XList(...)` / `_address;`)
JS_NEW = re.compile(r"^\s*(?:this\.)?_(\w+)(?: = new [\w.]+\(this, .*|;)$")


def load_wheel(path):
    """Return (jsii assembly, {js path: source}) from a prebuilt-provider wheel."""
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith(".jsii.tgz"))
        tgz = z.read(name)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tf:
        asm = json.load(tf.extractfile("package/.jsii"))
        js = {
            m.name: tf.extractfile(m).read().decode()
            for m in tf.getmembers()
            if m.name.startswith("package/lib/") and m.name.endswith(".js")
        }
    return asm, js


def parse_js(js):
    """class name -> {camelName: (snake_name, computed, optional, required)}."""
    out = {}
    for src in js.values():
        cls = pending = None
        for line in src.splitlines():
            m = JS_CLASS.match(line)
            if m:
                cls, pending = m.group(1), None
                out.setdefault(cls, {})
                continue
            m = JS_ATTR.match(line)
            if m:
                pending = (m.group(1), *tuple(g == "true" for g in m.group(2, 3, 4)))
                continue
            if pending and cls:
                g = JS_GET.match(line) or JS_NEW.match(line)
                if g:
                    out[cls][g.group(1)] = pending
                pending = None
    return out


def type_of(t, prefix):
    """jsii type reference -> 'string' | 'list(number)' | 'struct:FQN' | 'resolvable' | 'any' ..."""
    if "primitive" in t:
        return {"boolean": "bool", "json": "any"}.get(t["primitive"], t["primitive"])
    if "collection" in t:
        c = t["collection"]
        kind = "list" if c["kind"] == "array" else "map"
        return f"{kind}({type_of(c['elementtype'], prefix)})"
    if "union" in t:  # `X | IResolvable` -> X
        kinds = [k for k in (type_of(x, prefix) for x in t["union"]["types"]) if k != "resolvable"]
        return kinds[0] if len(kinds) == 1 else "any"
    fqn = t.get("fqn", "")
    if fqn.endswith(".IResolvable"):
        return "resolvable"
    return "struct:" + fqn if fqn.startswith(prefix) else "any"


def cty_type(t):
    """type_of() string -> Terraform (cty) JSON type; anything not expressible is dynamic."""
    if t in ("string", "number", "bool"):
        return t
    for kind in ("list", "map"):
        if t.startswith(kind + "("):
            inner = cty_type(t[len(kind) + 1 : -1])
            return "dynamic" if inner == "dynamic" else [kind, inner]
    return "dynamic"


def tf_name(prop):
    """The Terraform argument name of a jsii struct property."""
    docs = prop.get("docs", {})
    m = ANCHOR.search(docs.get("remarks", "") + " " + docs.get("summary", ""))
    if m:
        return m.group(1)
    return re.sub(r"(?<!^)([A-Z])", r"_\1", prop["name"]).lower()


def build(asm, js):
    """Compact schema (see module docstring) from a jsii assembly and its JS sources."""
    types = asm["types"]
    prefix = asm["name"] + "."
    js_classes = parse_js(js)

    def short(fqn):
        return fqn[len(prefix) :]

    out = {"format": FORMAT, "resources": {}, "data": {}, "structs": {}}
    owner = {}  # config struct fqn -> class whose getters describe its computed attributes
    provider_cfg = None
    for fqn, t in types.items():
        base = (t.get("base") or "").rsplit(".", 1)[-1]
        if t["kind"] != "class" or base not in (
            "TerraformResource",
            "TerraformDataSource",
            "TerraformProvider",
        ):
            continue
        cfg = next(
            (p["type"]["fqn"] for p in t["initializer"]["parameters"] if p["name"] == "config"),
            None,
        )
        if base == "TerraformProvider":
            m = PROVIDER_DOC.search(t["docs"].get("summary", ""))
            if not m:
                raise ValueError(f"{fqn}: no provider source/version in its docs")
            out["provider"], out["version"] = f"{m.group(1)}/{m.group(2)}", m.group(3)
            provider_cfg = cfg
            continue
        m = CLASS_DOC.search(t["docs"].get("summary", ""))
        if not m:
            print(f"warning: {fqn}: no Terraform type in its docs; skipped", file=sys.stderr)
            continue
        out["resources" if base == "TerraformResource" else "data"][m.group(1)] = short(cfg)
        owner[cfg] = fqn
    if provider_cfg:
        out["provider_config"] = short(provider_cfg)

    todo = [provider_cfg] if provider_cfg else []
    todo += [prefix + s for s in list(out["resources"].values()) + list(out["data"].values())]
    while todo:
        fqn = todo.pop()
        if short(fqn) in out["structs"]:
            continue
        attrs, blocks = {}, {}
        for p in types[fqn].get("properties", []):
            name, ty = tf_name(p), type_of(p["type"], prefix)
            required = not p.get("optional", False)
            struct = re.search(r"struct:(\S+?)\)*$", ty)
            if not struct:
                attrs[name] = {"t": cty_type(ty), "r": required}
            elif p["docs"].get("summary", "").endswith(" block."):
                blocks[name] = {
                    "s": short(struct.group(1)),
                    "r": required,
                    "m": ty.startswith("list("),
                }
                todo.append(struct.group(1))
            else:  # nested object *attribute* (rare, e.g. kubernetes_manifest.wait_for)
                attrs[name] = {"t": "dynamic", "r": required}
        own = owner.get(fqn, fqn + "OutputReference")
        if fqn == provider_cfg:
            attrs.pop("alias", None)  # a meta-argument, not part of the provider schema
            computed = {}
        else:
            computed = _computed(
                attrs,
                blocks,
                js_classes.get(own.rsplit(".", 1)[-1], {}),
                types.get(own, {}),
                prefix,
            )
        out["structs"][short(fqn)] = {"a": attrs, "b": blocks, "c": computed}
    return out


def _computed(attrs, blocks, js_attrs, cls, prefix):
    """Flag optional+computed arguments ("oc") and return the computed-only attributes.

    js_attrs are the getter comments of the class that reads this struct back.  Without
    them, every optional argument is taken as optional+computed: validation is unaffected,
    and mock_provider may then fill it in."""
    if not any(optional and snake in attrs for snake, _, optional, _ in js_attrs.values()):
        for a in attrs.values():
            if not a["r"]:
                a["oc"] = True
    props = {p["name"]: p for p in cls.get("properties", [])}
    computed = {}
    for camel, (snake, is_computed, optional, required) in js_attrs.items():
        if snake in attrs:
            if optional and is_computed:
                attrs[snake]["oc"] = True
        elif is_computed and not optional and not required and snake not in blocks:
            p = props.get(camel)
            computed[snake] = cty_type(type_of(p["type"], prefix)) if p else "dynamic"
    return computed


def main(argv=None):
    """Write the compact schema of WHEEL to OUT.json, recording PIN as its source."""
    wheel, dest, *pin = argv or sys.argv[1:]
    schema = build(*load_wheel(wheel))
    if pin:
        schema["source"] = pin[0]
    with open(dest, "w") as f:
        json.dump(schema, f, separators=(",", ":"), sort_keys=True)


if __name__ == "__main__":
    main()
