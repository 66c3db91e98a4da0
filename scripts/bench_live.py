#!/usr/bin/env python3
"""readnext bench live: reads under live writes, against a running server.

Started by scripts/bench-live.sh, which owns the server (start, readiness,
stop) and passes its port and PID. This driver runs three phases of
PHASE_SECONDS each, every one measured with wrk on
GET /v1/articles/{id}/related?k=8 for uniformly random stored ids:

  1. reads only;
  2. reads while BBC articles (a corpus not in the store) are PUT at
     PUT_RATE/s and clicks are POSTed at CLICK_RATE/s (batches of 50);
  3. reads after the writes stopped.

Right after phase 2's measured window, with the same writes (and, unless
FRESH_READS=0, the same reads) still going, it measures two freshness lags
FRESH_TRIALS times each:

  a. follow-up lag: PUT ack of a follow-up F of a stored article S (S's
     title and first half of its paragraphs) until F is among S's related
     picks;
  b. trending lag: ack of a burst of clicks on an article T until T is in
     /v1/trending?k=10&window=1h.

Python 3.11 standard library only. Only 127.0.0.1 is contacted; every loop
is bounded in count and time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"  # never anything else
# Socket timeout of every request of ours (writes can take seconds to be
# acked under read load; a timed-out request is counted as
# "conn:TimeoutError").
REQUEST_TIMEOUT = float(os.environ.get("REQUEST_TIMEOUT", "").strip() or 30)
# Longest a freshness trial may spend before its PUT or burst is acked
# (finding an article, the acks themselves); the polling has FRESH_TIMEOUT.
TRIAL_SETUP_BUDGET = float(os.environ.get("TRIAL_SETUP_BUDGET", "").strip() or 60)


def env_int(name: str, default: int) -> int:
    v = os.environ.get(name, "").strip()
    return int(v) if v else default


def env_float(name: str, default: float) -> float:
    v = os.environ.get(name, "").strip()
    return float(v) if v else default


def now() -> float:
    """The one clock of the driver: monotonic, sub-millisecond."""
    return time.perf_counter()


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values; None if empty."""
    if not values:
        return None
    s = sorted(values)
    rank = max(1, -(-len(s) * q // 100))  # ceil(n*q/100), at least 1
    return s[int(min(rank, len(s))) - 1]


def quote_id(article_id: str) -> str:
    """An id as one path segment (ids may hold any character)."""
    return urllib.parse.quote(article_id, safe="")


# --------------------------------------------------------------------------
# HTTP


class Client:
    """One keep-alive HTTP/1.1 connection to the server, reopened after a
    failure. Not thread-safe: one per thread."""

    def __init__(self, port: int, timeout: float | None = None):
        self.port = port
        self.timeout = REQUEST_TIMEOUT if timeout is None else timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: object = None) -> tuple[int | str, bytes, float]:
        """(status, body, seconds). A transport failure gives the status
        "conn:<ExceptionName>" (counted like an HTTP error, never raised)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in range(2):
            reused = self.conn is not None
            t0 = now()
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, payload, now() - t0
            except (OSError, http.client.HTTPException) as e:
                self.close()
                # A kept-alive connection the server closed while it was
                # idle (between phases) fails at once: retry once on a new
                # one. Any other failure is an error of the request.
                stale = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
                if attempt == 0 and reused and isinstance(e, stale):
                    continue
                return f"conn:{type(e).__name__}", b"", now() - t0
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: object = None) -> tuple[int | str, object, float]:
        status, payload, secs = self.request(method, path, body)
        try:
            value = json.loads(payload) if payload else None
        except ValueError:
            value = None
        return status, value, secs

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


def list_ids(client: Client) -> list[str]:
    """Every stored id, paging GET /v1/articles (bounded: 1000 pages)."""
    ids: list[str] = []
    after = None
    for _ in range(1000):
        path = "/v1/articles?limit=5000" + (f"&after={urllib.parse.quote(after, safe='')}" if after else "")
        status, page, _ = client.json("GET", path)
        if status != 200 or not isinstance(page, dict):
            raise SystemExit(f"bench-live: GET {path} answered {status}")
        ids.extend(page["ids"])
        after = page.get("next")
        if not after:
            break
    return ids


def server_memory(pid: int) -> dict[str, int | None]:
    """VmHWM (peak RSS, a high-water mark) and VmRSS of the server, in KiB."""
    out: dict[str, int | None] = {"VmHWM": None, "VmRSS": None}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in out:
                out[key] = int(rest.split()[0])
    except OSError:
        pass
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def metrics(client: Client) -> dict[str, float]:
    """The readnext_* gauges of /metrics (articles, events, index lag...)."""
    status, payload, _ = client.request("GET", "/metrics")
    out: dict[str, float] = {}
    if status != 200:
        return out
    for line in payload.decode(errors="replace").splitlines():
        if line.startswith("readnext_") and "{" not in line:
            name, _, value = line.partition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


# --------------------------------------------------------------------------
# The BBC corpus, as articles the store does not hold yet


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # One file of the set (sport/199.txt) is Latin-1 (a bare 0xA3, £).
        return raw.decode("latin-1")


def parse_bbc(text: str) -> tuple[str, list[str]] | None:
    """The BBC layout, as readnext's own bbc parser reads it: line 1 the
    headline, then paragraphs separated by blank lines."""
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return None
    title = " ".join(lines[0].split())
    paragraphs, current = [], []
    for line in lines[1:]:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    if not title or not paragraphs:
        return None
    return title, paragraphs


def load_bbc(root: Path, stored: set[str], tag: str) -> list[tuple[str, dict]]:
    """(id, article) for every BBC file, ids `bench-bbc-<section>-<file>`.
    If a previous run already stored those ids (a reused $STORE), every id
    gets the run's tag so that each PUT is a real insert."""
    found = []
    for section_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(section_dir.glob("*.txt")):
            parsed = parse_bbc(read_text(f))
            if parsed is None:
                continue
            title, body = parsed
            found.append((f"bench-bbc-{section_dir.name}-{f.stem}", section_dir.name, title, body))
    if any(aid in stored for aid, *_ in found):
        found = [(f"{aid}-{tag}", *rest) for aid, *rest in found]
    # No "lang": the server detects it, as `readnext ingest` would.
    return [(aid, {"id": aid, "title": t, "body": b, "section": s}) for aid, s, t, b in found]


# --------------------------------------------------------------------------
# Writers (phase 2): open loop. A scheduler thread makes each request at
# its due time on the monotonic clock and hands it to a small pool of
# workers, each with its own keep-alive connection, so that a slow ack does
# not slow the rate (a single closed-loop connection would measure its own
# back-off, not the server). When every worker is busy and as many
# requests again wait, the due request is dropped and counted: the rate
# achieved and the drops show a server that cannot keep up.


@dataclass
class Sample:
    due: float  # monotonic time the request was due (scheduled)
    sent: float  # monotonic send time (a worker picked it up)
    secs: float  # ack latency: send to the end of the response
    status: int | str
    items: int  # articles sent, or events the server accepted


@dataclass
class Writer:
    name: str
    samples: list[Sample] = field(default_factory=list)
    dropped: list[float] = field(default_factory=list)  # due times of dropped requests
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, s: Sample) -> None:
        with self.lock:
            self.samples.append(s)

    def drop(self, due: float) -> None:
        with self.lock:
            self.dropped.append(due)

    def window(self, t0: float, t1: float) -> tuple[list[Sample], int]:
        with self.lock:
            return [s for s in self.samples if t0 <= s.due < t1], sum(1 for d in self.dropped if t0 <= d < t1)


def paced(rate: float, stop: threading.Event):
    """Yields the due time of each request, `rate` a second on the
    monotonic clock, until `stop` is set. The schedule is fixed: a late
    scheduler (it only enqueues, so it should never be) sends at once."""
    interval = 1.0 / rate
    due = now()
    while not stop.is_set():
        wait = due - now()
        if wait > 0 and stop.wait(wait):
            return
        yield due
        due += interval


def open_loop(
    port: int, rate: float, make, stop: threading.Event, w: Writer, workers: int
) -> None:
    """Runs `make()` -> (method, path, body, items) or None (nothing left)
    `rate` times a second, sent by `workers` connections, until `stop`."""
    q: queue.Queue = queue.Queue()

    def work() -> None:
        client = Client(port, timeout=REQUEST_TIMEOUT)
        while True:
            job = q.get()
            if job is None:
                break
            due, (method, path, body, items) = job
            sent = now()
            status, payload, secs = client.request(method, path, body)
            if items is None:
                # Events: what the server accepted (a 202 can still reject some).
                items = 0
                if status == 202:
                    try:
                        items = int(json.loads(payload).get("accepted", 0))
                    except (ValueError, AttributeError, TypeError):
                        items = 0
            w.record(Sample(due, sent, secs, status, items))
        client.close()

    pool = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for t in pool:
        t.start()
    busy = lambda: q.qsize()  # requests waiting for a worker
    for due in paced(rate, stop):
        if busy() >= workers:
            w.drop(due)
            continue
        job = make()
        if job is None:  # e.g. the corpus is exhausted
            break
        q.put((due, job))
    for _ in pool:
        q.put(None)
    for t in pool:
        # A request in flight ends within REQUEST_TIMEOUT.
        t.join(REQUEST_TIMEOUT + 5)


def put_writer(port: int, articles: list[tuple[str, dict]], rate: float, stop: threading.Event, w: Writer,
               workers: int) -> None:
    it = iter(articles)

    def make():
        item = next(it, None)  # None: no more fresh articles
        if item is None:
            return None
        aid, art = item
        return "PUT", f"/v1/articles/{quote_id(aid)}", art, 1

    open_loop(port, rate, make, stop, w, workers)


def click_writer(port: int, ids: list[str], rate: float, batch: int, stop: threading.Event, w: Writer,
                 workers: int, seed: int) -> None:
    rng = random.Random(seed)

    def make():
        # No "time": the server stamps the events with its own clock.
        events = [{"user": f"u{rng.randrange(10_000)}", "article": rng.choice(ids), "type": "click"}
                  for _ in range(batch)]
        return "POST", "/v1/events", events, None

    # `rate` clicks a second in POSTs of `batch`: rate/batch POSTs a second.
    open_loop(port, rate / batch, make, stop, w, workers)


def writer_figures(w: Writer, t0: float, t1: float) -> dict:
    """A writer over [t0, t1): the throughput is what was acked in the
    window; the latencies, statuses and drops are those of the requests
    due in it (counted once the writers stopped, so that the slow ones
    acked after the window count too)."""
    ss, dropped = w.window(t0, t1)
    with w.lock:
        acked = [s for s in w.samples if t0 <= s.sent + s.secs < t1]
    good = lambda s: isinstance(s.status, int) and 200 <= s.status < 300
    statuses: dict[str, int] = {}
    for s in ss:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
    lat = [s.secs * 1000 for s in ss]
    waits = [(s.sent - s.due) * 1000 for s in ss]
    span = max(t1 - t0, 1e-9)
    return {
        "due": len(ss) + dropped,
        "sent": len(ss),
        "ok": sum(1 for s in ss if good(s)),
        "dropped": dropped,
        # Articles (or accepted events) a second whose ack came in the window.
        "acked_items_per_s": sum(s.items for s in acked if good(s)) / span,
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "max_ms": max(lat) if lat else None,
        # Time a due request waited for a free connection of ours (not in the ack latency).
        "client_wait_p99_ms": percentile(waits, 99),
        "statuses": statuses,
    }


# --------------------------------------------------------------------------
# Reads: wrk, with a Lua script that counts responses by status


WRK_LUA = r"""
-- Written by scripts/bench_live.py. Uniformly random stored ids (already
-- URL-escaped, one per line). Each wrk thread has its own Lua state,
-- seeded apart so that the threads do not send the same sequence, and each
-- run gets its own seed (the script's argument): with one seed, phase 2
-- would replay phase 1's ids and find exactly the blocks phase 1 cached.
local ids = {}
for line in io.lines(%(ids)s) do
  if #line > 0 then ids[#ids + 1] = line end
end
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
  math.randomseed((tonumber(args[1]) or 0) + 7919 * (tid or 0))
end
function request()
  return wrk.format("GET", "/v1/articles/" .. ids[math.random(#ids)] .. "/related?k=8")
end
-- READ_RATE: each connection waits this many ms before each request, so
-- that the connections together ask about READ_RATE reads a second (wrk
-- times a request from its send, so the wait is not in the latency);
-- 0 asks as fast as the server answers.
local wait_ms = %(delay)s
if wait_ms > 0 then
  function delay() return wait_ms end
end
-- Every response by status code, so 5xx (and 4xx) are reported by code;
-- socket errors and timeouts come from summary.errors.
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local by = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for code, n in pairs(s) do by[code] = (by[code] or 0) + n end
    end
  end
  local parts = {}
  for code, n in pairs(by) do parts[#parts + 1] = string.format('"%%d": %%d', code, n) end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format("reads: %%.0f requests/s, p50 %%.2f ms, p99 %%.2f ms, p999 %%.2f ms\n",
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000))
  io.write(string.format(
    'BENCH_LIVE {"requests": %%.0f, "duration_us": %%.0f, "bytes": %%.0f, "mean_us": %%.1f, "max_us": %%.0f, ' ..
    '"p50_us": %%.0f, "p90_us": %%.0f, "p99_us": %%.0f, "p999_us": %%.0f, "statuses": {%%s}, ' ..
    '"errors": {"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}}\n',
    summary.requests, summary.duration, summary.bytes, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    table.concat(parts, ", "), e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass
class Reads:
    wrk: str
    port: int
    lua: Path
    connections: int
    threads: int
    timeout: str

    def argv(self, seconds: int, seed: int) -> list[str]:
        return [
            self.wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{seconds}s",
            f"--timeout={self.timeout}",
            "--latency",
            "-s",
            str(self.lua),
            f"http://{HOST}:{self.port}",
            "--",
            str(seed),
        ]

    def run(self, seconds: int, seed: int, log: Path) -> dict:
        """A measured wrk run; its figures (the BENCH_LIVE line) as a dict."""
        p = subprocess.run(
            self.argv(seconds, seed), capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        log.write_text(p.stdout + p.stderr)
        for line in p.stdout.splitlines():
            if not line.startswith("BENCH_LIVE "):
                print("    " + line)
        for line in p.stdout.splitlines():
            if line.startswith("BENCH_LIVE "):
                return read_figures(json.loads(line[len("BENCH_LIVE ") :]))
        raise SystemExit(f"bench-live: wrk gave no figures (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")

    def background(self, seconds: int, seed: int) -> subprocess.Popen:
        """Unmeasured reads (the load during the freshness trials)."""
        return subprocess.Popen(self.argv(seconds, seed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def read_figures(raw: dict) -> dict:
    secs = raw["duration_us"] / 1e6
    errors = {str(k): v for k, v in sorted(raw["statuses"].items()) if not 200 <= int(k) < 300}
    for kind in ("connect", "read", "write", "timeout"):
        if raw["errors"][kind]:
            errors[f"socket_{kind}"] = raw["errors"][kind]
    return {
        "requests": int(raw["requests"]),
        "seconds": secs,
        "reads_per_s": raw["requests"] / secs if secs else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "p999_ms": raw["p999_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "statuses": {str(k): v for k, v in sorted(raw["statuses"].items())},
        "errors": errors,
    }


# --------------------------------------------------------------------------
# Freshness


def pick_ids(body: object) -> list[str]:
    if not isinstance(body, dict):
        return []
    return [p.get("id") for p in body.get("picks", []) if isinstance(p, dict)]


def poll(client: Client, path: str, want: str, every: float, timeout: float) -> tuple[float | None, int]:
    """Polls `path` every `every` s (start to start) until `want` is among
    its picks: (seconds from the call until the answer that had it, or None
    on timeout; polls made)."""
    t0 = now()
    polls = 0
    while True:
        started = now()
        if started - t0 > timeout:
            return None, polls
        status, body, _ = client.json("GET", path)
        polls += 1
        if status == 200 and want in pick_ids(body):
            return now() - t0, polls
        time.sleep(max(0.0, started + every - now()))


def followup_of(s: dict, fid: str) -> dict:
    """F: S's title and the first half of S's paragraphs, under a new id."""
    f = {"id": fid, "title": s["title"], "body": s["body"][: len(s["body"]) // 2]}
    for key in ("lang", "section", "published"):
        # S's date too, so that recency neither helps nor hurts F: the lag
        # measures freshness, not ranking.
        if s.get(key):
            f[key] = s[key]
    return f


def followup_trial(
    client: Client, ids: list[str], rng: random.Random, fid: str, every: float, timeout: float, used: set[str]
) -> dict:
    # S: a random stored article with 4+ paragraphs (so that half of them
    # is an article). The ranker drops near-copies of the query from its
    # block (SimHash, or text cosine >= 0.92), and half of a short article
    # can be one: F would then never show up, whatever the freshness. So F
    # is first asked for as an unsaved page (POST /v1/related, nothing
    # stored): the copy test is symmetric, so if S is among F's picks, F
    # is no copy of S and can be among S's. Such S are skipped and counted.
    s, f, copies = None, None, 0
    deadline = now() + TRIAL_SETUP_BUDGET
    for _ in range(40):
        if now() > deadline:
            break
        sid = rng.choice(ids)
        if sid in used:
            continue
        status, art, _ = client.json("GET", f"/v1/articles/{quote_id(sid)}")
        if status != 200 or not isinstance(art, dict) or len(art.get("body") or []) < 4:
            continue
        cand = followup_of(art, fid)
        status, block, _ = client.json("POST", "/v1/related?k=8", cand)
        if status != 200:
            return {"source": sid, "error": f"POST /v1/related answered {status}: {block}"}
        if sid in pick_ids(block):
            s, f = art, cand
            break
        copies += 1
    if s is None:
        return {"error": f"no usable article in 40 tries or {TRIAL_SETUP_BUDGET:g} s "
                         f"({copies} would have been collapsed as copies)"}
    sid = s["id"]
    used.add(sid)
    related = f"/v1/articles/{quote_id(sid)}/related?k=8"
    # Serve S's block once first: a live page's block is cached, and the
    # lag includes whatever it takes to notice that it changed.
    client.json("GET", related)
    status, ack, put_secs = client.json("PUT", f"/v1/articles/{quote_id(fid)}", f)
    if status not in (200, 201):
        return {"source": sid, "followup": fid, "error": f"PUT answered {status}: {ack}"}
    # The lag counts from the PUT's ack.
    lag, polls = poll(client, related, fid, every, timeout)
    return {"source": sid, "followup": fid, "paragraphs": [len(s["body"]), len(f["body"])],
            "skipped_as_copies": copies, "put_ack_ms": put_secs * 1000,
            "lag_ms": None if lag is None else lag * 1000, "polls": polls}


def trending_trial(
    client: Client, ids: list[str], rng: random.Random, users: str, clicks: int, batch: int,
    every: float, timeout: float, used: set[str],
) -> dict:
    trending = "/v1/trending?k=10&window=1h"
    status, body, _ = client.json("GET", trending)
    if status != 200:
        return {"error": f"GET {trending} answered {status}"}
    top = set(pick_ids(body))
    candidates = [i for i in (rng.choice(ids) for _ in range(100)) if i not in top and i not in used]
    if not candidates:
        return {"error": "no article outside the trending top found in 100 tries"}
    tid = candidates[0]
    used.add(tid)
    acks = []
    deadline = now() + TRIAL_SETUP_BUDGET
    for start in range(0, clicks, batch):
        if now() > deadline:
            return {"article": tid, "error": f"the burst was not acked in {TRIAL_SETUP_BUDGET:g} s"}
        events = [{"user": f"{users}-{j}", "article": tid, "type": "click"} for j in range(start, min(clicks, start + batch))]
        status, ack, secs = client.json("POST", "/v1/events", events)
        if status != 202:
            return {"article": tid, "error": f"POST /v1/events answered {status}: {ack}"}
        acks.append(secs * 1000)
    # The lag counts from the ack of the burst's last POST.
    lag, polls = poll(client, trending, tid, every, timeout)
    return {"article": tid, "clicks": clicks, "post_ack_ms": acks,
            "lag_ms": None if lag is None else lag * 1000, "polls": polls}


def lag_summary(trials: list[dict]) -> dict:
    seen = [t["lag_ms"] for t in trials if t.get("lag_ms") is not None]
    timeouts = sum(1 for t in trials if "error" not in t and t.get("lag_ms") is None)
    errors = [t["error"] for t in trials if "error" in t]
    return {
        "trials": len(trials),
        "seen": len(seen),
        "timeouts": timeouts,
        "errors": errors,
        "median_ms": statistics.median(seen) if seen else None,
        "max_ms": max(seen) if seen else None,
        "detail": trials,
    }


# --------------------------------------------------------------------------
# Report


def fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def fmt_errors(errors: dict) -> str:
    return "none" if not errors else " ".join(f"{k}:{v}" for k, v in errors.items())


def fmt_lag(s: dict, timeout: float) -> str:
    if s["seen"] == 0:
        text = "never seen"
    else:
        text = f"median {fmt(s['median_ms'])} ms, max {fmt(s['max_ms'])} ms ({s['seen']}/{s['trials']} seen)"
    if s["timeouts"]:
        text += f"; {s['timeouts']} timed out after {timeout:g} s"
    if s["errors"]:
        text += f"; {len(s['errors'])} failed: {s['errors'][0]}"
    return text


def trial_text(t: dict, timeout: float) -> str:
    if "error" in t:
        return f"failed ({t['error']})"
    ack = t["put_ack_ms"] if "put_ack_ms" in t else sum(t["post_ack_ms"])
    if t.get("lag_ms") is None:
        return f"timed out ({timeout:g} s, {t['polls']} polls; ack took {fmt(ack, 0)} ms)"
    return f"{fmt(t['lag_ms'])} ms ({t['polls']} polls; ack took {fmt(ack, 0)} ms)"


def print_table(phases: list[dict]) -> None:
    # PUT/s and clicks/s: acked in the phase; the ack latencies: of the
    # requests due in it.
    head = ["phase", "reads/s", "p50 ms", "p99 ms", "p999 ms", "read errors", "PUT/s", "PUT p50/p99 ms",
            "clicks/s", "event p50/p99 ms", "write errors", "VmHWM MiB"]
    rows = []
    for p in phases:
        r, put, ev = p["reads"], p.get("put"), p.get("events")
        werr = {}
        for label, w in (("PUT", put), ("events", ev)):
            for k, v in (w or {}).get("statuses", {}).items():
                if not k.startswith("2"):
                    werr[f"{label} {k}"] = v
            if w and w["dropped"]:
                # Due but not sent: all our connections were waiting for acks.
                werr[f"{label} dropped"] = w["dropped"]
        hwm = p["memory"]["VmHWM"]
        rows.append([
            p["name"], fmt(r["reads_per_s"], 0), fmt(r["p50_ms"], 2), fmt(r["p99_ms"], 2), fmt(r["p999_ms"], 2),
            fmt_errors(r["errors"]),
            fmt(put["acked_items_per_s"], 1) if put else "-",
            f"{fmt(put['p50_ms'])}/{fmt(put['p99_ms'])}" if put else "-",
            fmt(ev["acked_items_per_s"], 0) if ev else "-",
            f"{fmt(ev['p50_ms'])}/{fmt(ev['p99_ms'])}" if ev else "-",
            fmt_errors(werr) if (put or ev) else "-",
            fmt(hwm / 1024 if hwm else None, 0),
        ])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if i in (0, 5, 10) else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(head))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True, help="the server's port on 127.0.0.1")
    ap.add_argument("--pid", type=int, required=True, help="the server's PID (for VmHWM)")
    ap.add_argument("--bbc", type=Path, required=True, help="the BBC corpus root (section folders of .txt)")
    ap.add_argument("--work", type=Path, required=True, help="a scratch folder (ids, Lua script, wrk logs)")
    ap.add_argument("--json", type=Path, default=os.environ.get("JSON_OUT") or None, help="write the figures here")
    ap.add_argument("--wrk", default=os.environ.get("WRK", "wrk"))
    args = ap.parse_args()

    phase_s = env_int("PHASE_SECONDS", 30)
    put_rate = env_float("PUT_RATE", 5.0)
    click_rate = env_float("CLICK_RATE", 500.0)
    click_batch = env_int("CLICK_BATCH", 50)
    # Connections per writer: enough for the rate at acks of a second or two.
    put_conns = env_int("PUT_CONNS", 8)
    event_conns = env_int("EVENT_CONNS", 8)
    connections = env_int("CONNECTIONS", 64)
    wrk_threads = env_int("WRK_THREADS", 2)
    trials = env_int("FRESH_TRIALS", 5)
    fresh_timeout = env_float("FRESH_TIMEOUT", 10.0)
    poll_every = env_float("POLL_MS", 20.0) / 1000
    trend_clicks = env_int("TREND_CLICKS", 300)
    fresh_reads = env_int("FRESH_READS", 1) != 0
    seed = env_int("SEED", 20240601)
    # Distinguishes this run's ids and users from a previous run's in a
    # reused store.
    tag = f"{int(time.time()):x}"
    if phase_s < 1 or connections < wrk_threads or trials < 0 or click_batch < 1 or min(put_conns, event_conns) < 1:
        raise SystemExit("bench-live: PHASE_SECONDS >= 1, CONNECTIONS >= WRK_THREADS, CLICK_BATCH >= 1, "
                         "PUT_CONNS and EVENT_CONNS >= 1 please")

    rng = random.Random(seed)
    client = Client(args.port)
    ids = list_ids(client)
    if not ids:
        raise SystemExit("bench-live: the store is empty")
    articles = load_bbc(args.bbc, set(ids), tag)
    rng.shuffle(articles)
    ids_file = args.work / "ids.txt"
    ids_file.write_text("".join(quote_id(i) + "\n" for i in ids))
    lua = args.work / "related.lua"
    read_rate = float(os.environ.get("READ_RATE", "0") or 0)
    wait_ms = int(round(connections * 1000 / read_rate)) if read_rate > 0 else 0
    lua.write_text(WRK_LUA % {"ids": json.dumps(str(ids_file)), "delay": wait_ms})
    reads = Reads(args.wrk, args.port, lua, connections, wrk_threads, os.environ.get("WRK_TIMEOUT", "10s"))
    print(f"== {len(ids):,} stored articles; {len(articles):,} BBC articles to PUT; "
          f"{phase_s} s a phase, {connections} connections, {wrk_threads} wrk threads"
          + (f", reads paced to about {read_rate:g}/s ({wait_ms} ms between a connection's requests)"
             if wait_ms else ", reads as fast as answered"))

    def check_server():
        if not alive(args.pid):
            raise SystemExit(f"bench-live: the server (PID {args.pid}) is gone; see serve.log")

    phases: list[dict] = []

    # Phase 1: reads only, straight after readiness (no warm-up of ours).
    print(f"== phase 1: reads only, {phase_s} s")
    r1 = reads.run(phase_s, seed + 100, args.work / "wrk-1.txt")
    check_server()
    phases.append({"name": "1 reads", "reads": r1, "memory": server_memory(args.pid), "metrics": metrics(client)})

    # Phase 2: the same reads with writers at steady rates.
    print(f"== phase 2: reads + PUT {put_rate:g}/s + clicks {click_rate:g}/s, {phase_s} s")
    stop = threading.Event()
    puts, events = Writer("put"), Writer("events")
    workers = []
    if put_rate > 0:
        workers.append(threading.Thread(
            target=put_writer, args=(args.port, articles, put_rate, stop, puts, put_conns), daemon=True))
    if click_rate > 0:
        workers.append(threading.Thread(
            target=click_writer, args=(args.port, ids, click_rate, click_batch, stop, events, event_conns, seed + 1),
            daemon=True))
    t0 = now()
    for w in workers:
        w.start()
    try:
        r2 = reads.run(phase_s, seed + 200, args.work / "wrk-2.txt")
        t1 = now()
        check_server()
        p2 = {"name": "2 reads+writes", "reads": r2, "memory": server_memory(args.pid), "metrics": metrics(client)}
        phases.append(p2)

        # Freshness, right after the measured window, with the writes (and
        # the reads, unless FRESH_READS=0) still going: the lags of a
        # loaded server, not of an idle one.
        follow, trend = [], []
        if trials:
            print(f"== freshness: {trials} trials each (timeout {fresh_timeout:g} s, polls every {poll_every * 1000:g} ms)")
            # wrk needs a duration: the longest the trials can take; it is
            # stopped as soon as they are done.
            bound = int(trials * 2 * (TRIAL_SETUP_BUDGET + REQUEST_TIMEOUT + fresh_timeout) + 10)
            bg = reads.background(bound, seed + 250) if fresh_reads else None
            used: set[str] = set()
            try:
                for i in range(trials):
                    a = followup_trial(client, ids, rng, f"bench-followup-{tag}-{i}", poll_every, fresh_timeout,
                                       used)
                    follow.append(a)
                    b = trending_trial(client, ids, rng, f"bench-trend-{tag}-{i}", trend_clicks, click_batch,
                                       poll_every, fresh_timeout, used)
                    trend.append(b)
                    print(f"    trial {i + 1}: follow-up {trial_text(a, fresh_timeout)}, "
                          f"trending {trial_text(b, fresh_timeout)}")
            finally:
                if bg is not None:
                    bg.terminate()
                    try:
                        bg.wait(10)
                    except subprocess.TimeoutExpired:
                        bg.kill()
                        bg.wait()
        check_server()
        mem_after_lags = server_memory(args.pid)
    finally:
        stop.set()
        for w in workers:
            w.join(REQUEST_TIMEOUT + 10)
    # Phase 2's writes are the requests due in its window, counted once the
    # writers stopped, so that the slow ones still in flight at its end count.
    if put_rate > 0:
        p2["put"] = writer_figures(puts, t0, t1)
    if click_rate > 0:
        p2["events"] = writer_figures(events, t0, t1)
    t2 = now()
    # The writers' figures over the whole time they ran, lag trials included.
    writes_total = {"put": writer_figures(puts, t0, t2), "events": writer_figures(events, t0, t2),
                    "seconds": t2 - t0}

    # Phase 3: reads after the writes stopped (no pause: what follows a
    # burst of writes is part of what is measured).
    print(f"== phase 3: reads after the writes stopped, {phase_s} s")
    m3 = metrics(client)
    r3 = reads.run(phase_s, seed + 300, args.work / "wrk-3.txt")
    check_server()
    phases.append({"name": "3 reads after", "reads": r3, "memory": server_memory(args.pid),
                   "metrics_before": m3, "metrics": metrics(client)})

    fs, ts = lag_summary(follow), lag_summary(trend)
    ratio = r2["reads_per_s"] / r1["reads_per_s"] if r1["reads_per_s"] else None

    print()
    print("== summary")
    print_table(phases)
    print(f"(PUT/s, clicks/s: acked during the phase, against targets of {put_rate:g} and {click_rate:g}; "
          f"ack p50/p99: of the requests due in it; dropped: due while all {put_conns} PUT or "
          f"{event_conns} event connections of ours, and as many queued requests, waited for acks)")
    print()
    for p in phases:
        m = p["metrics"]
        print(f"after {p['name']}: VmHWM {fmt((p['memory']['VmHWM'] or 0) / 1024, 0)} MiB, "
              f"VmRSS {fmt((p['memory']['VmRSS'] or 0) / 1024, 0)} MiB, "
              f"{m.get('readnext_articles', 0):,.0f} articles, {m.get('readnext_events', 0):,.0f} events, "
              f"index lag {m.get('readnext_index_lag', 0):,.0f}")
        if p is phases[1]:
            print(f"after the freshness trials: VmHWM {fmt((mem_after_lags['VmHWM'] or 0) / 1024, 0)} MiB, "
                  f"VmRSS {fmt((mem_after_lags['VmRSS'] or 0) / 1024, 0)} MiB")
    wp, we = writes_total["put"], writes_total["events"]
    print(f"writes while they ran ({writes_total['seconds']:.0f} s): {wp['ok']:,} PUTs acked "
          f"({wp['dropped']:,} dropped), {sum(s.items for s in events.samples if s.status == 202):,} clicks accepted "
          f"({we['dropped']:,} POSTs dropped)")
    if trials:
        skipped = sum(t.get("skipped_as_copies", 0) for t in follow)
        print(f"follow-up lag (PUT ack -> F in S's related): {fmt_lag(fs, fresh_timeout)}"
              + (f" [{skipped} candidate S skipped: F would be a near-copy]" if skipped else ""))
        print(f"trending lag ({trend_clicks} clicks acked -> in trending top 10): {fmt_lag(ts, fresh_timeout)}")
    print(f"reads/s phase 2 / phase 1: {fmt(ratio, 3)}")

    if args.json:
        out = {
            "config": {"phase_seconds": phase_s, "put_rate": put_rate, "click_rate": click_rate,
                       "click_batch": click_batch, "put_conns": put_conns, "event_conns": event_conns,
                       "connections": connections, "wrk_threads": wrk_threads,
                       "fresh_trials": trials, "fresh_timeout_s": fresh_timeout, "poll_ms": poll_every * 1000,
                       "trend_clicks": trend_clicks, "fresh_reads": fresh_reads, "seed": seed,
                       "stored_articles": len(ids), "lexical": os.environ.get("LEXICAL", "") == "1"},
            "phases": phases,
            "writes_total": writes_total,
            "memory_after_freshness": mem_after_lags,
            "freshness": {"followup": fs, "trending": ts},
            "reads_ratio_phase2_over_phase1": ratio,
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    # SIGTERM (from the shell's timeout) ends like Ctrl-C: the finally
    # blocks stop the writers and the background wrk.
    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench-live: interrupted", file=sys.stderr)
        sys.exit(130)
