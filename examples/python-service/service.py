#!/usr/bin/env python3
"""A small webhook service of the kind this harness tests: it takes RevenueCat webhooks and uploads CleverTap events.

Only Python's standard library. Configured by the environment:
  PORT                  where to listen (default 3000, on 127.0.0.1; HOST to change)
  RC_AUTH               the Authorization value RevenueCat is configured to send
  CLEVERTAP_URL         the region's API, e.g. https://eu1.api.clevertap.com (the harness: http://127.0.0.1:8081/eu1)
  CLEVERTAP_ACCOUNT_ID, CLEVERTAP_PASSCODE
"""
import hmac
import json
import os
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RC_AUTH = os.environ.get("RC_AUTH", "")
CLEVERTAP_URL = os.environ.get("CLEVERTAP_URL", "https://eu1.api.clevertap.com").rstrip("/")
ACCOUNT_ID = os.environ.get("CLEVERTAP_ACCOUNT_ID", "")
PASSCODE = os.environ.get("CLEVERTAP_PASSCODE", "")
MAX_BODY = 1 << 20


def event_name(e):
    """This service's own event names for the RevenueCat events it cares about; None ignores the event."""
    kind = e.get("type")
    if kind == "INITIAL_PURCHASE":
        return "Trial Started" if e.get("period_type") == "TRIAL" else "Subscription Started"
    if kind == "RENEWAL":
        return "Trial Converted" if e.get("is_trial_conversion") else "Subscription Renewed"
    return {"CANCELLATION": "Subscription Cancelled", "EXPIRATION": "Subscription Expired"}.get(kind)


def to_record(e):
    name = event_name(e)
    if name is None:
        return None
    attrs = e.get("subscriber_attributes") or {}
    identity = (attrs.get("$clevertapId") or {}).get("value") or e.get("app_user_id")
    return {"type": "event", "identity": identity, "ts": int(e["event_timestamp_ms"]) // 1000, "evtName": name,
            "evtData": {"amount": e.get("price_in_purchased_currency") or 0, "currency": e.get("currency"),
                        "product_id": e.get("product_id")}}


def upload(record):
    body = json.dumps({"d": [record]}).encode()
    req = urllib.request.Request(CLEVERTAP_URL + "/1/upload", data=body, method="POST", headers={
        "X-CleverTap-Account-Id": ACCOUNT_ID, "X-CleverTap-Passcode": PASSCODE,
        "Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer = json.load(resp)
    except urllib.error.HTTPError as err:
        return False, "HTTP %d %s" % (err.code, err.read(500).decode(errors="replace"))
    except (urllib.error.URLError, OSError, ValueError) as err:
        return False, str(err)
    return answer.get("status") == "success", json.dumps(answer)


class Hook(BaseHTTPRequestHandler):
    timeout = 30

    def answer(self, status, text):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(text.encode())

    def do_GET(self):
        if self.path == "/health":
            return self.answer(200, "ok")
        return self.answer(404, "no such route")

    def do_POST(self):
        if self.path != "/rc/hook":
            return self.answer(404, "no such route")
        if not hmac.compare_digest(self.headers.get("Authorization", ""), RC_AUTH):
            return self.answer(401, "wrong Authorization")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.answer(413, "too large")
        try:
            event = json.loads(self.rfile.read(length))["event"]
            record = to_record(event)
        except (ValueError, KeyError, TypeError) as err:
            return self.answer(400, "not a RevenueCat webhook: %s" % err)
        if record is None:
            return self.answer(200, "ignored " + str(event.get("type")))
        ok, detail = upload(record)
        print("%s -> %s: %s" % (event.get("type"), record["evtName"], "ok" if ok else detail), flush=True)
        # RevenueCat retries anything but 200: a failed upload is tried again later
        return self.answer(200, "sent") if ok else self.answer(502, "CleverTap: " + detail)

    def log_message(self, *args):
        pass  # one line per webhook above; never the headers (they hold the secret)


def main():
    if not (RC_AUTH and ACCOUNT_ID and PASSCODE):
        sys.exit("set RC_AUTH, CLEVERTAP_ACCOUNT_ID and CLEVERTAP_PASSCODE")
    server = ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "3000"))), Hook)
    print("listening on http://%s:%d" % server.server_address, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
