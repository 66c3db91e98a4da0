//! The widget in a real browser: Debian's Chromium, driven through
//! chromedriver's W3C WebDriver protocol, loads a host page on another
//! origin that embeds `/widget.js` for the seed article, over the White
//! House corpus. The block renders, a hostile title stays text, and
//! impressions and a click arrive as events. A screenshot is kept.
//!
//! Needs `chromium` and `chromium-driver` (the test script installs them)
//! and the shared data (`READNEXT_DATA`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn data() -> PathBuf {
    std::env::var_os("READNEXT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<Value>) -> Value {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A minimal WebDriver client. Dropping it ends the session, which closes
/// the browser, even when an assertion failed.
struct Driver {
    http: Client,
    base: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send();
    }
}

/// Kills any browser left with this profile folder (a crashed driver can
/// orphan it).
struct Reap(PathBuf);
impl Drop for Reap {
    fn drop(&mut self) {
        let _ = Command::new("pkill").arg("-f").arg(&self.0).status();
    }
}

impl Driver {
    fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = self.http.request(method, url);
        let r = if body.is_null() { req } else { req.json(&body) }.send().unwrap();
        let v: Value = r.json().unwrap();
        assert!(v["value"].get("error").is_none(), "webdriver {path}: {v}");
        v["value"].clone()
    }
    fn script(&self, js: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", json!({"script": js, "args": []}))
    }
}

#[test]
fn widget_renders_the_seed_block_escapes_titles_and_records_clicks() {
    for bin in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: install chromium and chromium-driver (scripts/test.sh does)"
        );
    }
    let seed = data().join("../seed/000_07b8cb05d29d32a1.txt");
    let seed = if seed.exists() {
        seed
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seed/000_07b8cb05d29d32a1.txt")
    };
    let wh = data().join("wh-briefings");
    assert!(seed.exists() && wh.exists(), "shared data not found under {}", data().display());

    // The store: the White House corpus and the seed page.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let report = dir.path().join("report.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_readnext"))
        .arg("--store")
        .arg(&store)
        // Lexical: embedding 13k articles would take minutes on two cores.
        .args(["--lexical", "ingest", "-q", "--report"])
        .arg(&report)
        .arg(&wh)
        .arg(&seed)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seed_id = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["file"].as_str().is_some_and(|f| f.ends_with("000_07b8cb05d29d32a1.txt")))
        .and_then(|v| v["ids"][0].as_str().map(String::from))
        .expect("the seed's id is in the report");

    // The host page, on its own origin.
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    let host_origin = format!("http://{}", host.local_addr().unwrap());

    let mut server = Command::new(env!("CARGO_BIN_EXE_readnext"))
        .arg("--store")
        .arg(&store)
        .args(["serve", "--addr", "127.0.0.1:0", "--api-keys", "adm=admin,rd=read", "--cors-origins", &host_origin])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _server = Kill(server);
    let api = line.trim().strip_prefix("readnext listening on ").unwrap().to_string();
    let http = Client::new();

    // A hostile title, pinned first into the seed's block by an editor.
    let xss = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script> Cartels warning";
    let r = http
        .put(format!("{api}/v1/articles/xss-test"))
        .bearer_auth("adm")
        .json(&json!({"title": xss, "body": "Cartels in Mexico and the military.", "published": "2025-03-01"}))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let r = http
        .put(format!("{api}/v1/rules/pins/{seed_id}"))
        .bearer_auth("adm")
        .json(&json!(["xss-test"]))
        .send()
        .unwrap();
    assert!(r.status().is_success());

    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Host</title></head><body>\
         <h1>Hegseth threatens to enter Mexico militarily</h1><p>Article text.</p>\
         <div data-readnext-article=\"{seed_id}\"></div>\
         <div id=\"story\" data-readnext-article=\"{seed_id}\" data-readnext-story=\"true\" data-readnext-k=\"3\"></div>\
         <script src=\"{api}/widget.js\" async></script></body></html>"
    );
    std::thread::spawn(move || {
        for mut conn in host.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                page.len(),
                page
            );
        }
    });

    // Chromium through chromedriver.
    let port = free_port();
    let _driver = Kill(
        Command::new("/usr/bin/chromedriver").arg(format!("--port={port}")).stdout(Stdio::null()).spawn().unwrap(),
    );
    let wd = format!("http://127.0.0.1:{port}");
    wait_for("chromedriver", Duration::from_secs(20), || {
        let v: Value = http.get(format!("{wd}/status")).send().ok()?.json().ok()?;
        v["value"]["ready"].as_bool().filter(|r| *r).map(|_| Value::Null)
    });
    let profile = dir.path().join("chromium-profile");
    let _reap = Reap(profile.clone());
    let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1000,1400", format!("--user-data-dir={}", profile.display())]}}}});
    let s: Value = http.post(format!("{wd}/session")).json(&caps).send().unwrap().json().unwrap();
    let session = s["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {s}")).to_string();
    let d = Driver { http: http.clone(), base: wd.clone(), session };
    d.call(reqwest::Method::POST, "/url", json!({"url": host_origin}));

    let n = wait_for("the blocks to render", Duration::from_secs(30), || {
        let n = d.script("return document.querySelectorAll('.readnext-pick').length");
        (n.as_u64()? >= 11).then_some(n)
    });
    assert_eq!(n, 11, "eight slots, and three of background under the story");
    // The story so far: the seed's neighbours agree on the tariff story,
    // shown in date order, all of it from 2025.
    let dates = d.script(
        "return Array.from(document.querySelectorAll('#story .readnext-entry time')).map(t => t.textContent.trim())",
    );
    let dates: Vec<String> = serde_json::from_value(dates).unwrap();
    assert!(dates.len() >= 2 && dates.iter().all(|d| d.starts_with("2025-")), "{dates:?}");
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{dates:?}");
    let heading = d.script("return document.querySelector('#story .readnext-story-title').textContent");
    assert!(heading.as_str().is_some_and(|h| h.contains("Tariff")), "{heading}");
    let titles = d.script("return Array.from(document.querySelectorAll('.readnext-title')).map(a => a.textContent)");
    let titles: Vec<String> = serde_json::from_value(titles).unwrap();
    assert_eq!(titles[0], xss, "the hostile title is shown as text");
    assert!(d.script("return window.__xss === undefined && !document.querySelector('.readnext-block img[src=\"x\"], .readnext-block script')").as_bool().unwrap());
    let on_story =
        titles[1..].iter().filter(|t| ["Mexico", "Cartel", "Tariff", "Fentanyl"].iter().any(|w| t.contains(w))).count();
    assert!(on_story >= 3, "the seed's block is about Mexico and the cartels: {titles:#?}");
    let why = d.script("return document.querySelectorAll('.readnext-pick')[1].title");
    assert!(why.as_str().is_some_and(|w| !w.is_empty()), "why on hover");

    // The screenshot, kept as an artefact.
    let png = d.call(reqwest::Method::GET, "/screenshot", Value::Null);
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("widget-seed-block.png");
    std::fs::write(&shot, decode_base64(png.as_str().unwrap())).unwrap();
    eprintln!("screenshot: {}", shot.display());

    // A click is recorded (with the reader id the widget keeps in localStorage).
    let reader = d.script("return localStorage.getItem('readnext_uid')");
    let reader = reader.as_str().expect("a first-party reader id").to_string();
    let el = d.call(reqwest::Method::POST, "/element", json!({"using": "css selector", "value": ".readnext-title"}));
    let el_id = el.as_object().unwrap().values().next().unwrap().as_str().unwrap().to_string();
    d.call(reqwest::Method::POST, &format!("/element/{el_id}/click"), json!({}));
    let trending = wait_for("the click event", Duration::from_secs(20), || {
        let v: Value = http.get(format!("{api}/v1/trending?k=3")).bearer_auth("rd").send().ok()?.json().ok()?;
        (v["picks"][0]["id"] == "xss-test").then_some(v)
    });
    let signals = &trending["picks"][0]["why"]["signals"];
    assert_eq!(signals[1]["value"], 1.0, "one click: {trending}");
    assert!(signals[2]["value"].as_f64().unwrap() >= 1.0, "impressions recorded: {trending}");
    let recs: Value = http
        .get(format!("{api}/v1/users/{reader}/recommendations?k=8"))
        .bearer_auth("rd")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        recs["picks"].as_array().unwrap().iter().all(|p| p["id"] != "xss-test"),
        "the clicked article is read: {recs}"
    );
    d.call(reqwest::Method::DELETE, "", Value::Null);
}

fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            _ => 63,
        }
    };
    let clean: Vec<u8> = s.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c) << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    out
}
