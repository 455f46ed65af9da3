#!/usr/bin/env python3
"""Drives bench/scale.sh: builds a configuration of many published APIs through the admin API
and prints the figures of issue 9's targets. Standard library only.

Reads: GATEWAY, ADMIN (host:port), TOKEN, PID (the pylon process), N (APIs), NGROUPS,
PARALLEL (concurrent admin clients), WRK (path to wrk, or empty), DURATION (wrk seconds).
"""

import http.client
import json
import os
import statistics
import subprocess
import threading
import time

GATEWAY = os.environ["GATEWAY"]
ADMIN = os.environ["ADMIN"]
TOKEN = os.environ["TOKEN"]
PID = int(os.environ["PID"])
N = int(os.environ.get("N", "10000"))
NGROUPS = int(os.environ.get("NGROUPS", "100"))
PARALLEL = int(os.environ.get("PARALLEL", "8"))
WRK = os.environ.get("WRK", "")
DURATION = int(os.environ.get("DURATION", "10"))
BASE_DOMAIN = "scale.test"

local = threading.local()


def admin(method, path, body=None):
    """One admin call on this thread's kept-alive connection; returns (status, json, seconds)."""
    conn = getattr(local, "conn", None)
    if conn is None:
        host, port = ADMIN.rsplit(":", 1)
        conn = local.conn = http.client.HTTPConnection(host, int(port), timeout=120)
    data = json.dumps(body).encode() if body is not None else None
    headers = {"authorization": f"Bearer {TOKEN}"}
    if data is not None:
        headers["content-type"] = "application/json"
    started = time.perf_counter()
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    took = time.perf_counter() - started
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {raw[:300]!r}")
    return response.status, (json.loads(raw) if raw else None), took


def gateway_get(host, path):
    h, port = GATEWAY.rsplit(":", 1)
    conn = http.client.HTTPConnection(h, int(port), timeout=10)
    conn.request("GET", path, headers={"host": host})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def rss_mb():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def api_spec(i):
    return {
        "name": f"api-{i}",
        "request": {"method": "GET", "path": f"/s/{i}/{{id}}"},
        "backend": {
            "service": {"inline": {"type": "mock", "status": 200, "body": "ok"}},
            "path": "/",
        },
    }


def make_groups():
    groups = []
    for g in range(NGROUPS):
        _, body, _ = admin("POST", "/v1/groups", {"name": f"g{g}"})
        groups.append(body["id"])
    return groups


class Ops:
    """Latencies of creates and publishes, in the order they finished."""

    def __init__(self):
        self.lock = threading.Lock()
        self.create = []
        self.publish = []

    def add(self, create, publish):
        with self.lock:
            self.create.append(create)
            self.publish.append(publish)


def build(groups, first, count, ops):
    """Creates and publishes APIs first..first+count, PARALLEL at a time."""
    next_index = [first]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next_index[0]
                if i >= first + count:
                    return
                next_index[0] += 1
            group = groups[i % len(groups)]
            _, api, took_create = admin("POST", f"/v1/groups/{group}/apis", api_spec(i))
            _, _, took_publish = admin(
                "POST",
                f"/v1/groups/{group}/apis/{api['id']}/publish",
                {"environment": "RELEASE", "note": "scale"},
            )
            ops.add(took_create, took_publish)

    threads = [threading.Thread(target=worker) for _ in range(PARALLEL)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def ms(values):
    return statistics.median(values) * 1000 if values else float("nan")


def wrk(host, path):
    if not WRK:
        return None
    out = subprocess.run(
        [WRK, "-t1", "-c32", f"-d{DURATION}s", "-H", f"Host: {host}", f"http://{GATEWAY}{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError(f"no Requests/sec in wrk output: {out}")


def served_after_publish(groups, i):
    """Publishes one more API and asks the gateway at once: ms from the call's return to a 200."""
    group = groups[i % len(groups)]
    _, api, _ = admin("POST", f"/v1/groups/{group}/apis", api_spec(i))
    admin("POST", f"/v1/groups/{group}/apis/{api['id']}/publish", {"environment": "RELEASE"})
    returned = time.perf_counter()
    host = f"{group}.{BASE_DOMAIN}"
    while True:
        if gateway_get(host, f"/s/{i}/1") == 200:
            return (time.perf_counter() - returned) * 1000
        if time.perf_counter() - returned > 10:
            return float("inf")
        time.sleep(0.001)


def main():
    groups = make_groups()
    small = Ops()
    build(groups, 0, 10, small)
    probe_host = f"{groups[0]}.{BASE_DOMAIN}"
    rss_small = rss_mb()
    rps_small = wrk(probe_host, "/s/0/1")

    ops = Ops()
    seconds = build(groups, 10, N - 10, ops)
    rss_large = rss_mb()
    first, last = ops.create[:100], ops.create[-100:]
    pfirst, plast = ops.publish[:100], ops.publish[-100:]
    delays = [served_after_publish(groups, N + k) for k in range(20)]
    rps_large = wrk(probe_host, "/s/0/1")

    print(f"\nscale: {N} APIs in {NGROUPS} groups, {PARALLEL} admin clients")
    print(f"created and published {N - 10} APIs in {seconds:.1f} s "
          f"({(N - 10) / seconds:.1f} APIs/s)")
    print(f"create  median ms: first 100 {ms(first):8.1f}   last 100 {ms(last):8.1f}"
          f"   ratio {ms(last) / ms(first):.2f}")
    print(f"publish median ms: first 100 {ms(pfirst):8.1f}   last 100 {ms(plast):8.1f}"
          f"   ratio {ms(plast) / ms(pfirst):.2f}")
    print(f"served after the publish call returned: median {statistics.median(delays):.1f} ms,"
          f" max {max(delays):.1f} ms (target: within 50 ms)")
    print(f"resident memory: {rss_small:.0f} MB with 10 APIs, {rss_large:.0f} MB with {N}"
          f" (target: under 64 MB)")
    if rps_small is not None:
        print(f"requests/s on one API: {rps_small:.0f} with 10 APIs, {rps_large:.0f} with {N}"
              f"   ratio {rps_large / rps_small:.2f} (target: at least 0.95)")


if __name__ == "__main__":
    main()
