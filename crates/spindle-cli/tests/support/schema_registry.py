"""A schema registry for the tests: the endpoints of Confluent's Schema Registry REST
API that Spindle and confluent-kafka's SchemaRegistryClient use, in memory, with
BACKWARD compatibility checked for Avro records (a new version must read what the
latest one wrote: it may drop fields, add fields that have a default, and not change
a kept field's type).

No Confluent-compatible registry installs from the package registries this project
reaches (Confluent's and Apicurio's are Java services from their own repositories;
Karapace and Redpanda are not on PyPI, npm or Debian), hence this one.

    python schema_registry.py [--auth USER:PASSWORD] [--tls CERT.pem KEY.pem]

listens on a free port of 127.0.0.1 and prints it on the first line of stdout. With
--auth every request must carry those HTTP basic credentials (else 401); with --tls it
speaks HTTPS with that certificate.
"""

import base64
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"


class Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.schemas = []  # id - 1 -> (schema text, schema type)
        self.subjects = {}  # subject -> [id, ...] by version
        self.config = {"compatibilityLevel": "BACKWARD"}

    def id_of(self, text, schema_type):
        for i, (known, known_type) in enumerate(self.schemas):
            if known_type == schema_type and same(known, text):
                return i + 1
        return None

    def register(self, subject, text, schema_type):
        with self.lock:
            versions = self.subjects.setdefault(subject, [])
            known = self.id_of(text, schema_type)
            if known is not None and known in versions:
                return 200, {"id": known}
            if versions and schema_type == "AVRO":
                latest = self.schemas[versions[-1] - 1][0]
                problem = backward_problem(json.loads(latest), json.loads(text))
                if problem:
                    return 409, {
                        "error_code": 409,
                        "message": f"Schema being registered is incompatible with an earlier schema for subject \"{subject}\": {problem}",
                    }
            if known is None:
                self.schemas.append((text, schema_type))
                known = len(self.schemas)
            versions.append(known)
            return 200, {"id": known}

    def lookup(self, subject, text, schema_type):
        with self.lock:
            versions = self.subjects.get(subject)
            if not versions:
                return 404, {"error_code": 40401, "message": f"Subject '{subject}' not found."}
            known = self.id_of(text, schema_type)
            if known not in versions:
                return 404, {"error_code": 40403, "message": "Schema not found"}
            return 200, {"subject": subject, "id": known, "version": versions.index(known) + 1,
                         "schema": text}


def same(a, b):
    try:
        return json.loads(a) == json.loads(b)
    except ValueError:
        return a == b


def type_name(t):
    if isinstance(t, dict):
        return t.get("logicalType") or t.get("type")
    if isinstance(t, list):
        return [type_name(x) for x in t]
    return t


def backward_problem(old, new):
    """Why `new` cannot read what `old` wrote, for records; None if it can."""
    if not (isinstance(old, dict) and isinstance(new, dict) and old.get("type") == new.get("type") == "record"):
        return None if type_name(old) == type_name(new) else "the type changed"
    old_fields = {f["name"]: f for f in old["fields"]}
    for f in new["fields"]:
        before = old_fields.get(f["name"])
        if before is None and "default" not in f:
            return f"field '{f['name']}' is new and has no default"
        if before is not None and type_name(before["type"]) != type_name(f["type"]):
            return f"field '{f['name']}' changed type"
    return None


class Handler(BaseHTTPRequestHandler):
    registry = Registry()
    auth = None

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", MEDIA_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        if self.auth is None:
            return True
        expected = "Basic " + base64.b64encode(self.auth.encode()).decode()
        if self.headers.get("Authorization") == expected:
            return True
        self.answer(401, {"error_code": 401, "message": "Unauthorized"})
        return False

    def parts(self):
        url = urlsplit(self.path)
        return [unquote(p) for p in url.path.strip("/").split("/")], url.query

    def do_GET(self):
        if not self.authorized():
            return
        parts, _ = self.parts()
        r = self.registry
        with r.lock:
            if parts[:2] == ["schemas", "ids"] and len(parts) == 3:
                i = int(parts[2])
                if 0 < i <= len(r.schemas):
                    text, schema_type = r.schemas[i - 1]
                    body = {"schema": text}
                    if schema_type != "AVRO":
                        body["schemaType"] = schema_type
                    return self.answer(200, body)
                return self.answer(404, {"error_code": 40403, "message": "Schema not found"})
            if parts == ["subjects"]:
                return self.answer(200, sorted(r.subjects))
            if parts[0] == "subjects" and len(parts) == 4 and parts[2] == "versions":
                versions = r.subjects.get(parts[1], [])
                v = len(versions) if parts[3] == "latest" else int(parts[3])
                if 0 < v <= len(versions):
                    i = versions[v - 1]
                    text, schema_type = r.schemas[i - 1]
                    body = {"subject": parts[1], "id": i, "version": v, "schema": text}
                    if schema_type != "AVRO":
                        body["schemaType"] = schema_type
                    return self.answer(200, body)
                return self.answer(404, {"error_code": 40402, "message": "Version not found."})
            if parts[0] == "config":
                return self.answer(200, r.config)
        self.answer(404, {"error_code": 404, "message": f"no endpoint {self.path}"})

    def do_POST(self):
        if not self.authorized():
            return
        parts, _ = self.parts()
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        schema_type = body.get("schemaType", "AVRO")
        if parts[0] == "subjects" and len(parts) == 3 and parts[2] == "versions":
            return self.answer(*self.registry.register(parts[1], body["schema"], schema_type))
        if parts[0] == "subjects" and len(parts) == 2:
            return self.answer(*self.registry.lookup(parts[1], body["schema"], schema_type))
        self.answer(404, {"error_code": 404, "message": f"no endpoint {self.path}"})


def main():
    args = sys.argv[1:]
    tls = None
    while args:
        if args[0] == "--auth":
            Handler.auth, args = args[1], args[2:]
        elif args[0] == "--tls":
            tls, args = (args[1], args[2]), args[3:]
        else:
            sys.exit(f"unknown argument {args[0]}")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
