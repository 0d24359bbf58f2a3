"""An HTTP-level stand-in of the OpenStack APIs Rackspace's current cloud speaks: Keystone v3 (password
auth, a token and a service catalog), Nova v2.1 (servers, flavors), Glance v2 (images) and Swift (containers
and objects). Started by tests on a free 127.0.0.1 port, so libcloud's real OpenStack drivers (compute and
storage) go through their whole path: authentication, the catalog lookup, JSON requests, status codes.

The shapes follow libcloud's own fixtures (libcloud/test/compute/fixtures/openstack/_v3__auth.json,
openstack_v1_1/_servers_detail.json, _servers_create.json, _flavors_detail.json, _images_v2.json,
libcloud/test/storage/fixtures/cloudfiles/list_container_objects.json) and the OpenStack API reference:
201 + X-Subject-Token for a token, 401 for a missing or unknown token, 202 for a server create that
answers with the id only, BUILD (no addresses yet) before ACTIVE, 404 itemNotFound, 400 badRequest for an
unknown image or flavor, 204 for a delete; Swift lists with marker/prefix paging and answers HEAD with
the object's ETag (MD5), Content-Length and Last-Modified.

What it cannot prove (say so wherever it is relied on): Rackspace's own identity quirks and regions, Nova
microversion negotiation, scheduling (no valid host), quotas, rate limits, real network allocation and
boot time, image upload/import in Glance, Swift large objects, temp URLs and eventual consistency of
container listings. Nothing here is used in production; it lives in the package next to devpeers.py.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


@dataclass
class Image:
    id: str
    name: str
    status: str = "active"  # Glance v2: queued, saving, active, killed, deleted
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class Flavor:
    id: str
    name: str
    ram: int
    vcpus: int
    disk: int


@dataclass
class Server:
    id: str
    name: str
    image_id: str
    flavor_id: str
    metadata: dict[str, str]
    created_at: datetime
    public_ip: str
    private_ip: str
    polls_left: int  # GETs answered BUILD before the server turns ACTIVE
    deleted: bool = False


@dataclass
class StoredObject:
    body: bytes
    modified: datetime
    content_type: str = "application/octet-stream"

    @property
    def etag(self) -> str:
        return hashlib.md5(self.body).hexdigest()  # noqa: S324 - Swift's ETag is an MD5  # nosec B324


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OpenStackCloud:
    """The state behind the APIs, shared by the handler threads (one lock: tests are small)."""

    def __init__(self, *, user: str, password: str, project: str, domain: str = "Default", region: str = "DFW3",
                 build_polls: int = 2):
        self.user, self.password, self.project, self.domain, self.region = user, password, project, domain, region
        self.project_id = uuid.uuid4().hex
        self.build_polls = build_polls
        self.lock = threading.Lock()
        self.tokens: dict[str, datetime] = {}
        self.images: dict[str, Image] = {}
        self.flavors: dict[str, Flavor] = {}
        self.servers: dict[str, Server] = {}
        self.containers: dict[str, dict[str, StoredObject]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path): what the drivers really called
        self._ips = itertools.count(10)

    # ----------------------------------------------------------------- seeding (what an account already holds)

    def add_image(self, name: str, *, status: str = "active", created_at: datetime | None = None,
                  **properties: str) -> Image:
        image = Image(str(uuid.uuid4()), name, status, created_at or datetime.now(UTC), dict(properties))
        self.images[image.id] = image
        return image

    def add_flavor(self, name: str, *, ram: int = 4096, vcpus: int = 2, disk: int = 80, id: str = "") -> Flavor:
        flavor = Flavor(id or name.lower().replace(" ", "-"), name, ram, vcpus, disk)
        self.flavors[flavor.id] = flavor
        return flavor

    def put_object(self, container: str, name: str, body: bytes, modified: datetime | None = None) -> None:
        self.containers.setdefault(container, {})[name] = StoredObject(body, modified or datetime.now(UTC))

    def live_servers(self) -> list[Server]:
        return [s for s in self.servers.values() if not s.deleted]

    # ------------------------------------------------------------------------------------------- keystone

    def catalog(self, base: str) -> list[dict]:
        def service(kind: str, name: str, url: str) -> dict:
            return {"type": kind, "name": name, "id": uuid.uuid4().hex, "endpoints": [
                {"id": uuid.uuid4().hex, "interface": interface, "region": self.region, "region_id": self.region,
                 "url": url} for interface in ("public", "internal", "admin")]}

        return [
            service("identity", "keystone", f"{base}/identity/v3"),
            service("compute", "nova", f"{base}/compute/v2.1"),
            service("image", "glance", f"{base}/image"),
            service("object-store", "swift", f"{base}/swift/v1/AUTH_{self.project_id}"),
        ]

    def issue_token(self, body: dict, base: str) -> tuple[int, dict, str]:
        try:
            identity = body["auth"]["identity"]
            user = identity["password"]["user"]
            scope = body["auth"].get("scope", {}).get("project", {})
        except (KeyError, TypeError):
            return 400, {"error": {"code": 400, "title": "Bad Request",
                                   "message": "Expecting to find identity in auth."}}, ""
        ok = ("password" in identity.get("methods", []) and user.get("name") == self.user
              and secrets.compare_digest(str(user.get("password", "")), self.password)
              and (user.get("domain") or {}).get("name", self.domain) == self.domain)
        if not ok:
            return 401, {"error": {"code": 401, "title": "Unauthorized",
                                   "message": "The request you have made requires authentication."}}, ""
        if scope.get("name") != self.project:
            return 401, {"error": {"code": 401, "title": "Unauthorized",
                                   "message": f"Could not find project: {scope.get('name')}."}}, ""
        token = secrets.token_hex(16)
        now = datetime.now(UTC)
        self.tokens[token] = now + timedelta(hours=1)
        domain = {"id": "default", "name": self.domain}
        return 201, {"token": {
            "methods": ["password"], "issued_at": _iso(now), "expires_at": _iso(self.tokens[token]),
            "user": {"id": uuid.uuid4().hex, "name": self.user, "domain": domain},
            "project": {"id": self.project_id, "name": self.project, "domain": domain},
            "roles": [{"id": uuid.uuid4().hex, "name": "member"}], "catalog": self.catalog(base),
        }}, token

    def token_valid(self, token: str | None) -> bool:
        expires = self.tokens.get(token or "")
        return expires is not None and expires > datetime.now(UTC)

    # ----------------------------------------------------------------------------------------------- nova

    def server_json(self, server: Server, base: str) -> dict:
        building = server.polls_left > 0
        addresses = {} if building else {
            "public": [{"version": 4, "addr": server.public_ip, "OS-EXT-IPS:type": "fixed"}],
            "private": [{"version": 4, "addr": server.private_ip, "OS-EXT-IPS:type": "fixed"}],
        }
        href = f"{base}/compute/v2.1/servers/{server.id}"
        return {
            "id": server.id, "name": server.name, "status": "BUILD" if building else "ACTIVE",
            "tenant_id": self.project_id, "user_id": self.user, "hostId": "" if building else uuid.uuid4().hex,
            "created": _iso(server.created_at), "updated": _iso(datetime.now(UTC)),
            "image": {"id": server.image_id}, "flavor": {"id": server.flavor_id},
            "addresses": addresses, "metadata": dict(server.metadata), "accessIPv4": "", "accessIPv6": "",
            "key_name": None, "progress": 0 if building else 100, "OS-DCF:diskConfig": "AUTO",
            "OS-EXT-STS:task_state": "spawning" if building else None,
            "OS-EXT-STS:vm_state": "building" if building else "active",
            "OS-EXT-STS:power_state": 0 if building else 1,
            "links": [{"rel": "self", "href": href}, {"rel": "bookmark", "href": href}],
        }

    def observe(self, server: Server) -> None:
        """A GET of a building server: time passes in the data center."""
        if server.polls_left > 0:
            server.polls_left -= 1

    def create_server(self, body: dict, base: str) -> tuple[int, dict]:
        spec = (body or {}).get("server") or {}
        name, image_id, flavor_id = spec.get("name"), str(spec.get("imageRef", "")), str(spec.get("flavorRef", ""))
        if not name:
            return 400, {"badRequest": {"code": 400, "message": "Invalid input for field/attribute server. "
                                                                "Value: None. 'name' is a required property"}}
        image = self.images.get(image_id)
        if image is None or image.status != "active":
            return 400, {"badRequest": {"code": 400, "message": f"Image {image_id} could not be found."}}
        if flavor_id not in self.flavors:
            return 400, {"badRequest": {"code": 400, "message": f"Flavor {flavor_id} could not be found."}}
        metadata = spec.get("metadata") or {}
        if any(not isinstance(v, str) or len(k) > 255 or len(v) > 255 for k, v in metadata.items()):
            return 400, {"badRequest": {"code": 400, "message": "Invalid input for field/attribute metadata."}}
        n = next(self._ips)
        server = Server(str(uuid.uuid4()), name, image_id, flavor_id, dict(metadata), datetime.now(UTC),
                        f"198.51.100.{n}", f"10.208.0.{n}", self.build_polls)
        self.servers[server.id] = server
        href = f"{base}/compute/v2.1/servers/{server.id}"
        return 202, {"server": {"id": server.id, "adminPass": secrets.token_urlsafe(12),
                                "OS-DCF:diskConfig": "AUTO", "security_groups": [{"name": "default"}],
                                "links": [{"rel": "self", "href": href}, {"rel": "bookmark", "href": href}]}}

    def flavor_json(self, flavor: Flavor, base: str) -> dict:
        href = f"{base}/compute/v2.1/flavors/{flavor.id}"
        return {"id": flavor.id, "name": flavor.name, "ram": flavor.ram, "vcpus": flavor.vcpus,
                "disk": flavor.disk, "swap": "", "rxtx_factor": 1.0, "OS-FLV-EXT-DATA:ephemeral": 0,
                "os-flavor-access:is_public": True, "links": [{"rel": "self", "href": href}]}

    # --------------------------------------------------------------------------------------------- glance

    def image_json(self, image: Image) -> dict:
        return {"id": image.id, "name": image.name, "status": image.status, "visibility": "private",
                "protected": False, "min_disk": 0, "min_ram": 0, "size": 1 << 30, "disk_format": "vhd",
                "container_format": "ovf", "owner": self.project_id, "tags": [],
                "created_at": _iso(image.created_at), "updated_at": _iso(image.created_at),
                "self": f"/v2/images/{image.id}", "file": f"/v2/images/{image.id}/file",
                "schema": "/v2/schemas/image", **image.properties}


class _Handler(BaseHTTPRequestHandler):
    cloud: OpenStackCloud
    base: str
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: dict | list | bytes | None = None, headers: dict | None = None,
              head: bool = False) -> None:
        data = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        content_type = "application/octet-stream" if isinstance(body, bytes) else "application/json"
        headers = {"Content-Type": content_type, **(headers or {})}
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head and status not in (204, 304):
            self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        path, query = unquote(url.path), parse_qs(url.query)
        body = self._body() if method in ("POST", "PUT", "PATCH") else b""
        cloud = self.cloud
        with cloud.lock:
            cloud.requests.append((method, path))
            if path == "/identity/v3/auth/tokens" and method == "POST":
                try:
                    payload = json.loads(body or b"{}")
                except ValueError:
                    payload = {}
                status, answer, token = cloud.issue_token(payload, self.base)
                return self._send(status, answer, {"X-Subject-Token": token} if token else None)
            if path in ("/", "/identity/v3", "/identity"):
                return self._send(200, {"version": {"id": "v3.14", "status": "stable"}})
            if not cloud.token_valid(self.headers.get("X-Auth-Token")):
                return self._send(401, {"error": {"code": 401, "title": "Unauthorized",
                                                  "message": "The request you have made requires authentication."}})
            if path.startswith("/compute/v2.1"):
                return self._nova(method, path[len("/compute/v2.1"):], body)
            if path.startswith("/image/v2/images"):
                return self._glance(method, path[len("/image/v2/images"):])
            prefix = f"/swift/v1/AUTH_{cloud.project_id}"
            if path.startswith(prefix):
                return self._swift(method, path[len(prefix):].lstrip("/"), query, body)
            return self._send(404, {"itemNotFound": {"code": 404, "message": "The resource could not be found."}})

    def _nova(self, method: str, path: str, body: bytes) -> None:
        cloud = self.cloud
        parts = [p for p in path.split("/") if p]
        if parts == ["servers", "detail"] and method == "GET":
            servers = sorted(cloud.live_servers(), key=lambda s: s.created_at, reverse=True)
            for server in servers:
                cloud.observe(server)
            return self._send(200, {"servers": [cloud.server_json(s, self.base) for s in servers]})
        if parts == ["servers"] and method == "POST":
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                return self._send(400, {"badRequest": {"code": 400, "message": "Malformed request body"}})
            status, answer = cloud.create_server(payload, self.base)
            return self._send(status, answer)
        if len(parts) == 2 and parts[0] == "servers":
            server = cloud.servers.get(parts[1])
            if server is None or server.deleted:
                return self._send(404, {"itemNotFound": {"code": 404,
                                                         "message": f"Instance {parts[1]} could not be found."}})
            if method == "DELETE":
                server.deleted = True
                return self._send(204)
            cloud.observe(server)
            return self._send(200, {"server": cloud.server_json(server, self.base)})
        if parts == ["flavors", "detail"]:
            return self._send(200, {"flavors": [cloud.flavor_json(f, self.base) for f in cloud.flavors.values()]})
        if len(parts) == 2 and parts[0] == "flavors":
            flavor = cloud.flavors.get(parts[1])
            if flavor is None:
                return self._send(404, {"itemNotFound": {"code": 404,
                                                         "message": f"Flavor {parts[1]} could not be found."}})
            return self._send(200, {"flavor": cloud.flavor_json(flavor, self.base)})
        return self._send(404, {"itemNotFound": {"code": 404, "message": "The resource could not be found."}})

    def _glance(self, method: str, rest: str) -> None:
        cloud = self.cloud
        image_id = rest.strip("/")
        if not image_id:
            images = [cloud.image_json(i) for i in cloud.images.values()]
            return self._send(200, {"images": images, "first": "/v2/images", "schema": "/v2/schemas/images"})
        image = cloud.images.get(image_id)
        if image is None:
            return self._send(404, b"<html><body><h1>404 Not Found</h1>No image found with ID "
                                   + image_id.encode() + b"</body></html>", {"Content-Type": "text/html"})
        return self._send(200, cloud.image_json(image))

    def _swift(self, method: str, rest: str, query: dict, body: bytes) -> None:
        cloud = self.cloud
        container, _, name = rest.partition("/")
        if not container:
            listing = [{"name": c, "count": len(o), "bytes": sum(len(x.body) for x in o.values())}
                       for c, o in sorted(cloud.containers.items())]
            return self._send(200, listing)
        objects = cloud.containers.get(container)
        if not name:
            if method == "PUT":
                created = objects is None
                cloud.containers.setdefault(container, {})
                return self._send(201 if created else 202, b"", {"Content-Type": "text/html"})
            if objects is None:
                return self._send(404, b"<html><h1>Not Found</h1></html>", {"Content-Type": "text/html"},
                                  head=method == "HEAD")
            headers = {"X-Container-Object-Count": str(len(objects)),
                       "X-Container-Bytes-Used": str(sum(len(o.body) for o in objects.values()))}
            if method == "HEAD":
                return self._send(204, None, headers, head=True)
            prefix, marker = query.get("prefix", [""])[0], query.get("marker", [""])[0]
            limit = int(query.get("limit", ["10000"])[0])
            names = [n for n in sorted(objects) if n.startswith(prefix) and n > marker][:limit]
            listing = [{"name": n, "hash": objects[n].etag, "bytes": len(objects[n].body),
                        "content_type": objects[n].content_type,
                        "last_modified": objects[n].modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")}
                       for n in names]
            return self._send(200, listing, headers)
        if objects is None:
            return self._send(404, b"<html><h1>Not Found</h1></html>", {"Content-Type": "text/html"},
                              head=method == "HEAD")
        if method == "PUT":
            objects[name] = StoredObject(body, datetime.now(UTC), self.headers.get("Content-Type") or
                                         "application/octet-stream")
            return self._send(201, b"", {"ETag": objects[name].etag, "Content-Type": "text/html"})
        stored = objects.get(name)
        if stored is None:
            return self._send(404, b"<html><h1>Not Found</h1></html>", {"Content-Type": "text/html"},
                              head=method == "HEAD")
        if method == "DELETE":
            del objects[name]
            return self._send(204)
        headers = {"ETag": stored.etag, "Content-Type": stored.content_type,
                   "Content-Length": str(len(stored.body)), "Last-Modified": format_datetime(stored.modified,
                                                                                             usegmt=True)}
        return self._send(200, stored.body, headers, head=method == "HEAD")

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")


class OpenStackPeer:
    """The stand-in on a free 127.0.0.1 port, served from a thread; stop() shuts it down."""

    def __init__(self, cloud: OpenStackCloud):
        self.cloud = cloud
        handler = type("Handler", (_Handler,), {"cloud": cloud})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        handler.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/identity"

    def account_options(self) -> dict:
        """The non-secret options of a drportal provider account that uses this cloud."""
        return {"auth_url": self.auth_url, "project": self.cloud.project, "domain": self.cloud.domain,
                "region": self.cloud.region}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_openstack(**kwargs) -> OpenStackPeer:
    defaults = {"user": "jivosoft-ops", "password": secrets.token_urlsafe(16), "project": "jivosoft"}
    return OpenStackPeer(OpenStackCloud(**{**defaults, **kwargs}))
