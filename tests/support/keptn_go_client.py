"""A Keptn integration as go-utils v0.x / go-sdk (Keptn 1.4.5) speaks to the control plane.

Written from keptn/go-utils `922a317` (pkg/api/utils/v2: uniformUtils.go, shipyardControllerUtils.go,
apiUtils.go, apiServiceUtils.go, resourceUtils.go, logUtils.go; pkg/sdk: keptn.go,
connector/controlplane, connector/eventsource/http, connector/subscriptionsource,
connector/logforwarder; pkg/lib/v0_2_0/events.go; pkg/api/models) and keptn/keptn `318a3d5`
(shipyard-controller swagger and handlers) — not from reconciler's code. What it reproduces:

* base URLs from `KEPTN_API_ENDPOINT` (`http://host/api`): `<endpoint>/controlPlane` for the
  shipyard controller (uniform, triggered events, log), `<endpoint>/resource-service` for
  resources, and `<endpoint>` for `POST /v1/event` (api-service: go-utils strips
  `/controlPlane`);
* every request: `Content-Type: application/json`, the token in `x-token`, Go's user agent;
* JSON bodies as Go's `encoding/json` writes the models (struct field order, compact, zero
  `time.Time` as `0001-01-01T00:00:00Z`, nil slices as `null`, `omitempty` honoured);
* the ping is a `PUT` with an empty body; the poll encodes its query with `url.Values.Encode`
  (keys sorted) and follows `nextPageKey` until it is "" or "0";
* success is 200–204 for writes and exactly 200 for the poll (`getAndExpectOK`); errors are
  decoded as `models.Error` whose `code` must be an integer;
* the resource URI is `url.QueryEscape`d (so `job/config.yaml` travels as `job%2Fconfig.yaml`)
  and `resourceContent` is base64 both ways;
* go-sdk's event handling: `temporaryData.distributor.subscriptionID` added to each received
  event, a `.started` with the parent's common data (`project`, `stage`, `service`, `labels`),
  a `.finished` whose missing `status`/`result` default to `succeeded`/`pass`; the http event
  source remembers handled ids per subscription; an errored `.finished` is forwarded to the
  log endpoint as a `LogEntry`.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx

ZERO_TIME = "0001-01-01T00:00:00Z"
GO_USER_AGENT = "Go-http-client/1.1"


def go_json(value: Any) -> bytes:
    """Go's json.Marshal for these models: compact, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def go_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KeptnError(Exception):
    def __init__(self, status: int, body: bytes):
        decoded = json.loads(body) if body else {}
        if body and not isinstance(decoded.get("code", 0), int):      # models.Error.Code is int64
            raise TypeError(f"json: cannot unmarshal string into Go struct field Error.code: {body!r}")
        super().__init__(f"{status}: {decoded.get('message')}")
        self.status = status
        self.message = decoded.get("message")


class GoUtilsClient:
    """The HTTP calls of go-utils' UniformHandler, ShipyardControllerHandler, APIHandler,
    ResourceHandler and LogHandler, with `KEPTN_API_ENDPOINT`/`KEPTN_API_TOKEN`."""

    def __init__(self, endpoint: str, token: str, *, transport: httpx.BaseTransport | None = None):
        endpoint = endpoint.rstrip("/")
        self.api = endpoint
        self.control_plane = endpoint + "/controlPlane"
        self.resource_service = endpoint + "/resource-service"
        self.token = token
        self.http = httpx.Client(timeout=10, transport=transport)
        self.requests: list[httpx.Request] = []          # what went over the wire, for assertions

    def close(self) -> None:
        self.http.close()

    def _do(self, method: str, url: str, body: bytes | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/json", "x-token": self.token, "User-Agent": GO_USER_AGENT,
                   "Accept-Encoding": "gzip"}
        request = self.http.build_request(method, url, content=body if body is not None else b"", headers=headers)
        self.requests.append(request)
        return self.http.send(request)

    def _write(self, method: str, url: str, body: bytes | None) -> bytes:
        r = self._do(method, url, body)
        if 200 <= r.status_code <= 204:
            return r.content
        raise KeptnError(r.status_code, r.content)

    # -- uniform (uniformUtils.go) -----------------------------------------------------------

    def register_integration(self, integration: dict[str, Any]) -> str:
        body = self._write("POST", self.control_plane + "/v1/uniform/registration", go_json(integration))
        return json.loads(body)["id"]

    def ping(self, integration_id: str) -> dict[str, Any]:
        return json.loads(self._write("PUT", f"{self.control_plane}/v1/uniform/registration/{integration_id}/ping",
                                      None))

    def unregister_integration(self, integration_id: str) -> None:
        self._write("DELETE", f"{self.control_plane}/v1/uniform/registration/{integration_id}", None)

    def get_registrations(self) -> list[dict[str, Any]]:
        r = self._do("GET", self.control_plane + "/v1/uniform/registration")
        if r.status_code != 200:
            raise KeptnError(r.status_code, r.content)
        return r.json()

    def create_subscription(self, integration_id: str, subscription: dict[str, Any]) -> str:
        body = self._write("POST", f"{self.control_plane}/v1/uniform/registration/{integration_id}/subscription",
                           go_json(subscription))
        return json.loads(body)["id"]

    # -- shipyard controller (shipyardControllerUtils.go) ------------------------------------

    def get_open_triggered_events(self, event_type: str, project: str = "", stage: str = "",
                                  service: str = "", number_of_pages: int = 0) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        next_page_key = ""
        for _ in range(1000):
            query = {}
            if next_page_key:
                query["nextPageKey"] = next_page_key
            if project:
                query["project"] = project
            if service:
                query["service"] = service
            if stage:
                query["stage"] = stage
            url = f"{self.control_plane}/v1/event/triggered/{event_type}"
            if query:
                url += "?" + urlencode(sorted(query.items()), quote_via=quote_plus)
            r = self._do("GET", url)
            if r.status_code != 200:
                raise KeptnError(r.status_code, r.content)
            received = r.json()
            events.extend(received.get("events") or [])
            key = received.get("nextPageKey") or ""
            if key in ("", "0"):
                break
            if number_of_pages > 0 and int(key) >= number_of_pages:
                break
            next_page_key = key
        return events

    # -- api service (apiUtils.go SendEvent) -------------------------------------------------

    def send_event(self, event: dict[str, Any]) -> dict[str, Any] | None:
        body = self._write("POST", self.api + "/v1/event", go_json(event))
        return json.loads(body) if body else None

    # -- resource service (resourceUtils.go) --------------------------------------------------

    def _resource_uri(self, project: str, stage: str = "", service: str = "", resource: str = "") -> str:
        uri = self.resource_service + "/v1/project/" + project
        if stage:
            uri += "/stage/" + stage
        if service:
            uri += "/service/" + quote_plus(service)
        uri += "/resource"
        if resource:
            uri += "/" + quote_plus(resource)
        return uri

    def get_resource(self, project: str, stage: str = "", service: str = "", resource: str = "",
                     git_commit_id: str = "") -> dict[str, Any] | None:
        """None is go-utils' ResourceNotFoundError (a 404)."""
        uri = self._resource_uri(project, stage, service, resource)
        if git_commit_id:
            uri += "?" + urlencode({"gitCommitID": git_commit_id})
        r = self._do("GET", uri)
        if r.status_code == 404:
            return None
        if not 200 <= r.status_code < 300:
            raise KeptnError(r.status_code, r.content)
        resource_obj = r.json()
        resource_obj["resourceContent"] = base64.b64decode(resource_obj.get("resourceContent", "")).decode()
        return resource_obj

    def update_resource(self, project: str, stage: str, service: str, resource: str, content: str) -> str:
        body = go_json({"resourceURI": resource, "resourceContent": base64.b64encode(content.encode()).decode()})
        r = self._do("PUT", self._resource_uri(project, stage, service, resource), body)
        if not 200 <= r.status_code < 300:
            raise RuntimeError(r.text)
        return json.loads(r.content).get("version", "")

    # -- logs (logUtils.go Flush) -------------------------------------------------------------

    def log(self, entries: list[dict[str, Any]]) -> None:
        self._write("POST", self.control_plane + "/v1/log", go_json({"logs": entries}))


def integration_model(name: str, events: list[str], *, hostname: str = "node-1", namespace: str = "keptn",
                      version: str = "0.1.0") -> dict[str, Any]:
    """go-sdk's RegistrationData (keptn.go): one subscription per `PUBSUB_TOPIC` entry, as Go
    marshals `models.Integration` (id and lastseen zero, nil filter lists)."""
    return {"id": "", "name": name,
            "metadata": {"hostname": hostname, "integrationversion": version, "distributorversion": "0.15.0",
                         "location": "control-plane",
                         "kubernetesmetadata": {"namespace": namespace, "podname": f"{name}-pod",
                                                "deploymentname": name},
                         "lastseen": ZERO_TIME},
            "subscriptions": [{"id": "", "event": e, "filter": {"projects": None, "stages": None, "services": None}}
                              for e in events]}


def _event_data(data: dict[str, Any]) -> dict[str, Any]:
    """v0_2_0.EventData as Go decodes and re-encodes it (omitempty on every field)."""
    out = {k: data[k] for k in ("project", "stage", "service", "labels", "status", "result", "message")
           if data.get(k)}
    return out


def create_event(source: str, event_type: str, parent: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """v0_2_0.createEvent, as `models.KeptnContextExtendedCE` marshals (field order of the struct)."""
    return {"contenttype": "application/json", "data": data, "id": str(uuid.uuid4()),
            "shkeptncontext": parent["shkeptncontext"], "shkeptnspecversion": "0.2.4", "source": source,
            "specversion": "1.0", "time": go_now(), "triggeredid": parent["id"], "type": event_type}


TaskHandler = Callable[[dict[str, Any]], dict[str, Any]]


class GoSdkIntegration:
    """go-sdk's control plane with the HTTP event source, stepped by hand (no threads): `start`
    registers and pings; `poll_once` pings, polls every subscription, and runs the handler of
    each new event (`.started` → handler → `.finished`, or an errored `.finished` plus a log
    entry when the handler raises)."""

    def __init__(self, client: GoUtilsClient, name: str, handlers: dict[str, TaskHandler], **meta: Any):
        self.client = client
        self.name = name
        self.handlers = handlers
        self.registration = integration_model(name, list(handlers), **meta)
        self.id = ""
        self.subscriptions: list[dict[str, Any]] = []
        self.seen: dict[str, set[str]] = {}
        self.handled: list[dict[str, Any]] = []

    def start(self) -> str:
        self.id = self.client.register_integration(self.registration)
        self.subscriptions = self.client.ping(self.id)["subscriptions"]
        return self.id

    def poll_once(self) -> int:
        self.subscriptions = self.client.ping(self.id)["subscriptions"]
        handled = 0
        for sub in self.subscriptions:
            flt = sub.get("filter") or {}
            one = {key: flt[key][0] if flt.get(key) and len(flt[key]) == 1 else ""
                   for key in ("projects", "stages", "services")}
            events = self.client.get_open_triggered_events(sub["event"], project=one["projects"],
                                                            stage=one["stages"], service=one["services"])
            for event in events:
                if event["id"] in self.seen.setdefault(sub["id"], set()):
                    continue
                self.seen[sub["id"]].add(event["id"])
                if not self._matches(flt, event):          # eventmatcher (lists of several values)
                    continue
                event["data"].setdefault("temporaryData", {})["distributor"] = {"subscriptionID": sub["id"]}
                self._on_event(event)
                handled += 1
        return handled

    @staticmethod
    def _matches(flt: dict[str, Any], event: dict[str, Any]) -> bool:
        data = event.get("data") or {}
        return all(not flt.get(k) or data.get(f) in flt[k]
                   for k, f in (("projects", "project"), ("stages", "stage"), ("services", "service")))

    def _on_event(self, event: dict[str, Any]) -> None:
        event_type = event["type"]
        base = event_type[:-len(".triggered")]
        self.client.send_event(create_event(self.name, base + ".started", event, _event_data(event["data"])))
        try:
            result = self.handlers[event_type](event)
        except Exception as exc:  # noqa: BLE001 - go-sdk turns a handler error into an errored .finished
            data = dict(_event_data(event["data"]), status="errored", result="fail", message=str(exc))
            finished = create_event(self.name, base + ".finished", event, data)
            self.client.log([{"integrationid": self.id, "message": str(exc), "time": ZERO_TIME,
                              "shkeptncontext": event["shkeptncontext"], "task": base.rsplit(".", 1)[-1],
                              "triggeredid": event["id"], "gitcommitid": ""}])
            self.client.send_event(finished)
            self.handled.append(event)
            return
        data = dict(result)
        data.setdefault("status", "succeeded")
        data.setdefault("result", "pass")
        self.client.send_event(create_event(self.name, base + ".finished", event, data))
        self.handled.append(event)
