#!/usr/bin/env python3
"""readnext bench cluster: the driver behind scripts/bench-cluster.sh.

It takes a cluster that scripts/cluster.sh started (3 NATS servers and 3
readnext nodes on 127.0.0.1) and prints, in one run:

1. write throughput through the log: the corpus published with
   `readnext ingest --cluster` (articles/s), then EVENTS events POSTed in
   batches of 100 through random nodes (events/s, ack p50/p99);
2. convergence: every node's applied sequence and store digest;
3. faults under load: articles PUT at ARTICLE_RATE/s and events POSTed at
   EVENT_RATE/s (batches of 50) through the live nodes, with reads on all
   of them, while one NATS server is killed (-9) and restarted and one
   readnext node is killed (-9) and restarted; then every acknowledged
   write is looked for on every node (0 lost, 0 duplicated), with the
   count of acknowledged and refused writes and the longest write outage;
4. joining: a fourth node with an empty store, the time until it is ready
   and holds what the others hold, and its blocks against theirs;
5. reads against nodes pinned to one core each (taskset): one node, then
   two, under the same wrk load, and the ratio.

Traffic goes to 127.0.0.1 only; every phase is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_live import Client, load_bbc, percentile  # noqa: E402

HOST = "127.0.0.1"


def now() -> float:
    return time.monotonic()


def log(msg: str) -> None:
    print(msg, flush=True)


def node_status(port: int) -> dict:
    status, body, _ = Client(port, timeout=10).json("GET", "/v1/cluster")
    return body if status == 200 and isinstance(body, dict) else {}


def ready(port: int) -> bool:
    status, _, _ = Client(port, timeout=5).request("GET", "/readyz")
    return status == 200


def converge(ports: list[int], timeout: float) -> tuple[float | None, list[dict]]:
    """Seconds until every node applied the stream's last sequence, and
    their statuses (None: not within `timeout`)."""
    t0 = now()
    while True:
        st = [node_status(p) for p in ports]
        # The digest's position comes with the digest; the follower's and
        # the stream's last sequence may trail it by a moment.
        applied = [s.get("digest", {}).get("applied", 0) for s in st]
        last = max([s.get("last", 0) for s in st] + applied, default=0)
        if last > 0 and all(a == last and s.get("lag", {}).get("messages") == 0 for a, s in zip(applied, st)):
            return now() - t0, st
        if now() - t0 > timeout:
            return None, st
        time.sleep(0.25)


def same_digest(st: list[dict]) -> bool:
    ds = [s.get("digest") for s in st]
    return bool(ds) and all(d == ds[0] for d in ds) and ds[0] is not None


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def start(cmd: list[str], logfile: Path) -> subprocess.Popen:
    out = open(logfile, "ab")
    return subprocess.Popen(cmd, stdout=out, stderr=out, cwd=os.getcwd())


def kill9(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # A child of ours must be reaped.
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)


def list_ids(port: int, limit: int = 20000) -> list[str]:
    ids, after = [], None
    c = Client(port)
    while True:
        q = f"/v1/articles?limit=10000" + (f"&after={urllib.parse.quote(after, safe='')}" if after else "")
        status, body, _ = c.json("GET", q)
        if status != 200:
            break
        ids += body["ids"]
        after = body.get("next")
        if not after or len(ids) >= limit:
            break
    return ids


def events_batch(users: int, ids: list[str], n: int, rng: random.Random) -> list[dict]:
    t = int(time.time() * 1000)
    return [{"user": f"bench-u{rng.randrange(users)}", "article": rng.choice(ids),
             "type": "click" if rng.random() < 0.3 else "impression", "time": t - rng.randrange(60_000)}
            for _ in range(n)]


def post_events(ports: list[int], ids: list[str], total: int, threads: int) -> dict:
    """`total` events in batches of 100, from `threads` threads, each
    through the nodes in turn."""
    per = total // 100
    lat: list[float] = []
    accepted = [0]
    failed = [0]
    lock = threading.Lock()
    counter = iter(range(per))

    def worker(k: int) -> None:
        rng = random.Random(k)
        clients = [Client(p) for p in ports]
        i = 0
        while True:
            with lock:
                try:
                    next(counter)
                except StopIteration:
                    return
            c = clients[(k + i) % len(clients)]
            i += 1
            status, body, secs = c.json("POST", "/v1/events", events_batch(2000, ids, 100, rng))
            with lock:
                if status == 202:
                    lat.append(secs)
                    accepted[0] += body.get("accepted", 0)
                else:
                    failed[0] += 1

    t0 = now()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    secs = now() - t0
    return {"events": accepted[0], "seconds": secs, "events_per_s": accepted[0] / secs,
            "ack_p50_ms": 1000 * (percentile(lat, 50) or 0), "ack_p99_ms": 1000 * (percentile(lat, 99) or 0),
            "failed_posts": failed[0]}


class Faults:
    """The writers and readers of the fault phase."""

    def __init__(self, live: list[int], ids: list[str], bbc: list[tuple[str, dict]], article_rate: float,
                 event_rate: float):
        self.live = list(live)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ids = ids
        self.bbc = bbc
        self.article_rate = article_rate
        self.event_rate = event_rate
        self.acked_articles: list[str] = []
        self.acked_events = 0
        self.refused = {"articles": 0, "events": 0}
        self.refused_events_sent = 0
        self.ok_times: list[float] = []
        self.put_lat: list[float] = []
        self.event_lat: list[float] = []
        self.reads = {"ok": 0, "failed": 0}

    def pick(self, i: int) -> int:
        with self.lock:
            return self.live[i % len(self.live)]

    def articles(self) -> None:
        clients: dict[int, Client] = {}
        i, t0 = 0, now()
        while not self.stop.is_set() and i < len(self.bbc):
            due = t0 + i / self.article_rate
            if due > now():
                time.sleep(due - now())
            port = self.pick(i)
            c = clients.setdefault(port, Client(port, timeout=15))
            aid, art = self.bbc[i]
            status, _, secs = c.request("PUT", f"/v1/articles/{urllib.parse.quote(aid, safe='')}", art)
            with self.lock:
                if status in (200, 201, 202):
                    self.acked_articles.append(aid)
                    self.ok_times.append(now())
                    self.put_lat.append(secs)
                else:
                    self.refused["articles"] += 1
            i += 1

    def events(self) -> None:
        rng = random.Random(7)
        clients: dict[int, Client] = {}
        per_post = 50
        rate = self.event_rate / per_post
        i, t0 = 0, now()
        while not self.stop.is_set():
            due = t0 + i / rate
            if due > now():
                time.sleep(due - now())
            port = self.pick(i)
            c = clients.setdefault(port, Client(port, timeout=15))
            status, body, secs = c.json("POST", "/v1/events", events_batch(500, self.ids, per_post, rng))
            with self.lock:
                if status == 202:
                    self.acked_events += body.get("accepted", 0)
                    self.ok_times.append(now())
                    self.event_lat.append(secs)
                else:
                    self.refused["events"] += 1
                    self.refused_events_sent += per_post
            i += 1

    def reader(self, k: int) -> None:
        rng = random.Random(100 + k)
        clients: dict[int, Client] = {}
        while not self.stop.is_set():
            port = self.pick(rng.randrange(1000))
            c = clients.setdefault(port, Client(port, timeout=15))
            aid = urllib.parse.quote(rng.choice(self.ids), safe="")
            status, _, _ = c.request("GET", f"/v1/articles/{aid}/related?k=8")
            with self.lock:
                self.reads["ok" if status == 200 else "failed"] += 1
            time.sleep(0.01)


def wrk_reads(ports: list[int], ids_file: Path, work: Path, seconds: int, conns: int, k: int,
              in_order: bool = False) -> float:
    """Reads/s of wrk runs against `ports` at once (connections split), of
    `/v1/articles/{random id}/related?k=K` (with `in_order`, every id in
    turn, then wrk stops at `seconds`). Raises if any answer was not 2xx
    (a refused read is not throughput)."""
    lua = work / f"reads{k}{'-in-order' if in_order else ''}.lua"
    pick = "ids[(n % #ids) + 1]" if in_order else "ids[math.random(#ids)]"
    lua.write_text(
        f'local ids = {{}}\nfor line in io.lines("{ids_file}") do ids[#ids + 1] = line end\n'
        'local n = 0\n'
        'function init(args) math.randomseed(os.time() + (tonumber(args[1]) or 0)) end\n'
        f'function request() n = n + 1; return wrk.format("GET", "/v1/articles/" .. {pick} .. "/related?k={k}") end\n'
    )
    procs = []
    for n, p in enumerate(ports):
        procs.append(subprocess.Popen(
            ["wrk", "-t1", f"-c{max(1, conns // len(ports))}", f"-d{seconds}s", "-s", str(lua),
             f"http://{HOST}:{p}", "--", str(n)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    total = 0.0
    for pr in procs:
        out, _ = pr.communicate(timeout=seconds + 60)
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("Requests/sec:"):
                total += float(line.split()[1])
            if line.startswith("Non-2xx or 3xx responses:") or line.startswith("Socket errors:"):
                raise RuntimeError(f"wrk: {line}")
    return total


def warm(port: int, timeout: float) -> bool:
    """Waits until the node's warmer finished its first pass."""
    t0 = now()
    while now() - t0 < timeout:
        status, body, _ = Client(port, timeout=5).json("GET", "/readyz")
        if status == 200 and (body or {}).get("warm"):
            return True
        time.sleep(1)
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--dir", type=Path, required=True, help="the cluster's folder (cluster.sh's CLUSTER_DIR)")
    ap.add_argument("--nats", required=True, help="nats://… URLs, comma-separated")
    ap.add_argument("--ports", required=True, help="the readnext nodes' HTTP ports, comma-separated")
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--bbc", type=Path, required=True)
    ap.add_argument("--flags", default="", help="global readnext flags (e.g. --lexical)")
    ap.add_argument("--serve-flags", default="", help="more serve flags, as the cluster's nodes have them")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    events_total = int(os.environ.get("EVENTS", "100000"))
    fault_secs = float(os.environ.get("FAULT_SECONDS", "40"))
    article_rate = float(os.environ.get("ARTICLE_RATE", "20"))
    event_rate = float(os.environ.get("EVENT_RATE", "500"))
    scale_secs = int(os.environ.get("SCALE_SECONDS", "10"))
    ports = [int(p) for p in args.ports.split(",")]
    work = args.dir / "bench"
    work.mkdir(parents=True, exist_ok=True)
    out: dict = {}

    # 1. Write throughput: the corpus through the log, then events.
    log(f"loading {args.corpus} through the log (readnext ingest --cluster)")
    t0 = now()
    p = subprocess.run([args.bin, *args.flags.split(), "ingest", "--quiet", "--cluster", args.nats, str(args.corpus)],
                       capture_output=True, text=True)
    publish_secs = now() - t0
    log("  " + (p.stdout.strip().splitlines() or ["(no output)"])[-1])
    if p.returncode not in (0, 1):
        log(p.stderr)
        return 1
    applied_secs, st = converge(ports, 600)
    articles = st[0].get("digest", {}).get("articles", 0) if st else 0
    out["load"] = {"articles": articles, "publish_seconds": publish_secs,
                   "published_per_s": articles / publish_secs if publish_secs else None,
                   "all_applied_after_s": None if applied_secs is None else publish_secs + applied_secs}
    log(f"  {articles} articles: published at {articles / publish_secs:.0f}/s; every node applied them "
        f"{out['load']['all_applied_after_s'] or float('nan'):.1f} s after the start")
    ids = list_ids(ports[0])
    ids_file = work / "ids.txt"
    ids_file.write_text("\n".join(urllib.parse.quote(i, safe="") for i in ids) + "\n")
    log(f"posting {events_total} events in batches of 100 through the nodes")
    ev = post_events(ports, ids, events_total, 8)
    out["events"] = ev
    log(f"  {ev['events']} events in {ev['seconds']:.1f} s: {ev['events_per_s']:.0f} events/s, "
        f"ack p50 {ev['ack_p50_ms']:.1f} ms, p99 {ev['ack_p99_ms']:.1f} ms, {ev['failed_posts']} posts failed")

    # 2. Convergence.
    secs, st = converge(ports, 300)
    out["convergence"] = {"seconds": secs, "same": same_digest(st),
                          "nodes": [{"node": s.get("node"), "applied": s.get("applied"), "digest": s.get("digest")}
                                    for s in st]}
    log(f"convergence: {'same digest on every node' if same_digest(st) else 'DIGESTS DIFFER'} "
        f"({secs if secs is not None else float('nan'):.1f} s after the last event ack)")
    for s in st:
        d = s.get("digest", {})
        log(f"  {s.get('node')}: applied {s.get('applied')}, {d.get('articles')} articles, {d.get('events')} events, "
            f"{d.get('profiles')} readers, digest {d.get('articles_digest')}/{d.get('events_digest')}/"
            f"{d.get('profiles_digest')}/{d.get('rules_digest')}")
    before_events = st[0].get("digest", {}).get("events", 0)
    before_articles = st[0].get("digest", {}).get("articles", 0)

    # 3. Faults under load.
    nats_pids = {n: int((args.dir / "pids" / f"{n}.pid").read_text()) for n in ("nats1", "nats2", "nats3")}
    node_pids = {f"node{i + 1}": int((args.dir / "pids" / f"node{i + 1}.pid").read_text()) for i in range(len(ports))}
    bbc = [(aid, a) for aid, a in load_bbc(args.bbc, set(ids), "c")]
    f = Faults(ports, ids, bbc, article_rate, event_rate)
    threads = [threading.Thread(target=f.articles), threading.Thread(target=f.events)]
    threads += [threading.Thread(target=f.reader, args=(k,)) for k in range(4)]
    log(f"faults: {fault_secs:.0f} s of {article_rate:.0f} articles/s and {event_rate:.0f} events/s with reads on every node")
    t_start = now()
    for t in threads:
        t.start()
    timeline = []
    try:
        time.sleep(fault_secs * 0.15)
        nats_cmd = cmdline(nats_pids["nats1"])
        kill9(nats_pids["nats1"])
        timeline.append((now() - t_start, "kill -9 nats1"))
        time.sleep(fault_secs * 0.2)
        victim = "node2"
        vport = ports[1]
        node_cmd = cmdline(node_pids[victim])
        with f.lock:
            f.live.remove(vport)
        kill9(node_pids[victim])
        timeline.append((now() - t_start, f"kill -9 {victim}"))
        time.sleep(fault_secs * 0.15)
        pr = start(node_cmd, args.dir / f"{victim}.log")
        (args.dir / "pids" / f"{victim}.pid").write_text(str(pr.pid))
        t_restart = now()
        while not ready(vport) and now() - t_restart < 120:
            time.sleep(0.2)
        timeline.append((now() - t_start, f"{victim} restarted, ready after {now() - t_restart:.1f} s"))
        with f.lock:
            f.live.append(vport)
        time.sleep(fault_secs * 0.15)
        pn = start(nats_cmd, args.dir / "nats1.log")
        (args.dir / "pids" / "nats1.pid").write_text(str(pn.pid))
        timeline.append((now() - t_start, "nats1 restarted"))
        time.sleep(max(0.0, fault_secs - (now() - t_start)))
    finally:
        f.stop.set()
        for t in threads:
            t.join(timeout=60)
    for at, what in timeline:
        log(f"  {at:5.1f} s  {what}")
    times = sorted(f.ok_times)
    outage = max((b - a for a, b in zip(times, times[1:])), default=None)
    secs, st = converge(ports, 300)
    acked = f.acked_articles
    missing = {}
    for s, port in zip(st, ports):
        c = Client(port)
        missing[s.get("node")] = sum(
            1 for aid in acked if c.request("GET", f"/v1/articles/{urllib.parse.quote(aid, safe='')}")[0] != 200)
    d = st[0].get("digest", {}) if st else {}
    stored_new = d.get("articles", 0) - before_articles
    stored_events = d.get("events", 0) - before_events
    out["faults"] = {
        "timeline": timeline, "acked_articles": len(acked), "acked_events": f.acked_events,
        "refused_article_puts": f.refused["articles"], "refused_event_posts": f.refused["events"],
        "longest_write_outage_s": outage, "missing_on_node": missing, "stored_new_articles": stored_new,
        "stored_new_events": stored_events, "same_digest": same_digest(st), "reads": f.reads,
        "put_ack_p99_ms": 1000 * (percentile(f.put_lat, 99) or 0),
        "event_ack_p99_ms": 1000 * (percentile(f.event_lat, 99) or 0),
    }
    lost = sum(missing.values())
    dup_articles = stored_new - len(acked)
    extra_events = stored_events - f.acked_events
    log(f"  acknowledged: {len(acked)} articles, {f.acked_events} events; refused: {f.refused['articles']} PUTs, "
        f"{f.refused['events']} event POSTs; longest write outage {outage or 0:.2f} s")
    log(f"  acknowledged writes missing on a node: {lost} ({missing}); stored beyond the acknowledged: "
        f"{dup_articles} articles (at most {f.refused['articles']} refused could be in), {extra_events} events "
        f"(at most {f.refused_events_sent}); same digest on every node: {same_digest(st)}")
    log(f"  reads during the faults: {f.reads['ok']} answered, {f.reads['failed']} failed; "
        f"PUT ack p99 {out['faults']['put_ack_p99_ms']:.0f} ms, event ack p99 {out['faults']['event_ack_p99_ms']:.0f} ms")

    # 4. Joining.
    join_port = max(ports) + 1
    new_cmd = [args.bin, "--store", str(args.dir / "node4"), *args.flags.split(), "serve",
               "--addr", f"{HOST}:{join_port}", "--cluster", args.nats, "--node", "node4", *args.serve_flags.split()]
    t0 = now()
    pj = start(new_cmd, args.dir / "node4.log")
    (args.dir / "pids" / "node4.pid").write_text(str(pj.pid))
    while not ready(join_port) and now() - t0 < 600:
        time.sleep(0.2)
    ready_s = now() - t0
    secs, st = converge([ports[0], join_port], 600)
    equal_s = now() - t0
    same = same_digest(st)
    c1, c4 = Client(ports[0]), Client(join_port)
    rng = random.Random(3)
    sample = rng.sample(ids, min(50, len(ids)))
    equal_blocks = 0
    for aid in sample:
        q = f"/v1/articles/{urllib.parse.quote(aid, safe='')}/related?k=8"
        a = c1.json("GET", q)[1]
        b = c4.json("GET", q)[1]
        pa = [x["id"] for x in (a or {}).get("picks", [])]
        pb = [x["id"] for x in (b or {}).get("picks", [])]
        equal_blocks += pa == pb
    out["join"] = {"ready_s": ready_s, "same_data_s": equal_s, "same_digest": same,
                   "equal_blocks": equal_blocks, "blocks_compared": len(sample)}
    log(f"join: node4 (empty store) ready in {ready_s:.1f} s, holding the same data in {equal_s:.1f} s "
        f"(same digest: {same}); {equal_blocks}/{len(sample)} blocks equal to node1's")

    # 5. Reads with nodes pinned to one core each. The other nodes are
    # paused (SIGSTOP) meanwhile, and the two measured ones have finished
    # warming, so that the cores hold only the nodes measured and wrk.
    if os.cpu_count() and os.cpu_count() >= 2 and subprocess.run(["which", "wrk"], capture_output=True).returncode == 0:
        pids = {n: int((args.dir / "pids" / f"{n}.pid").read_text()) for n in ("node1", "node2", "node3", "node4")}
        for n in ("node3", "node4"):
            os.kill(pids[n], signal.SIGSTOP)
        try:
            warmed = warm(ports[0], 300) and warm(ports[1], 300)
            subprocess.run(["taskset", "-a", "-cp", "0", str(pids["node1"])], capture_output=True)
            subprocess.run(["taskset", "-a", "-cp", "1", str(pids["node2"])], capture_output=True)
            # Every default block read once first: those the fault phase's
            # articles drifted are recomputed then, not during the runs.
            wrk_reads([ports[0], ports[1]], ids_file, work, 90, 8, 8, in_order=True)
            # Cached blocks (k=8, what the warmer keeps): mostly HTTP and
            # wrk's own work. Computed blocks (k=7, then k=6, so that
            # neither run finds the other's in a cache): ranking work.
            cached1 = wrk_reads([ports[0]], ids_file, work, scale_secs, 32, 8)
            cached2 = wrk_reads([ports[0], ports[1]], ids_file, work, scale_secs, 32, 8)
            comp1 = wrk_reads([ports[0]], ids_file, work, scale_secs, 8, 7)
            comp2 = wrk_reads([ports[0], ports[1]], ids_file, work, scale_secs, 8, 6)
        finally:
            for n in ("node3", "node4"):
                os.kill(pids[n], signal.SIGCONT)
        out["scale"] = {"warm": warmed, "cached_one_node": cached1, "cached_two_nodes": cached2,
                        "cached_ratio": cached2 / cached1 if cached1 else None,
                        "computed_one_node": comp1, "computed_two_nodes": comp2,
                        "computed_ratio": comp2 / comp1 if comp1 else None}
        log(f"reads, nodes pinned to one core each (wrk shares the 2 cores; nodes 3 and 4 paused; warm: {warmed}):")
        log(f"  cached blocks, 32 connections: one node {cached1:.0f}/s, two nodes {cached2:.0f}/s, "
            f"ratio {cached2 / cached1 if cached1 else float('nan'):.2f}")
        log(f"  computed blocks, 8 connections: one node {comp1:.0f}/s, two nodes {comp2:.0f}/s, "
            f"ratio {comp2 / comp1 if comp1 else float('nan'):.2f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
