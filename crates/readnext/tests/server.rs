//! `readnext serve` over real HTTP: a real process on loopback, a real
//! client, every route and its error cases.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

const ADMIN: &str = "adm-key";
const WRITER: &str = "wr-key";
const READER: &str = "rd-key";

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `readnext serve` on a free port and waits for its address line.
fn start(extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    start_in(dir, extra)
}

/// The embedding model: `READNEXT_MODEL`, else the workspace's `models/`.
fn model() -> std::path::PathBuf {
    std::env::var_os("READNEXT_MODEL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2"))
}

fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_readnext"))
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg("--model")
        .arg(model())
        .args(["serve", "--addr", "127.0.0.1:0", "--api-keys", &format!("{ADMIN}=admin,{WRITER}=write,{READER}=read")])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("readnext serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("readnext listening on ").unwrap_or_else(|| panic!("{line:?}")).to_string();
    Server { child, base, _dir: dir }
}

fn client() -> Client {
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn key(r: RequestBuilder, k: &str) -> RequestBuilder {
    r.header("Authorization", format!("Bearer {k}"))
}

fn body(r: Response) -> (StatusCode, Value) {
    let s = r.status();
    let text = r.text().unwrap();
    (s, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

const CARTELS: &str = "Defense Secretary Pete Hegseth told Mexican officials that the military could act against the \
    drug cartels. President Claudia Sheinbaum rejected any intervention and said Mexico would fight the cartels.";

fn seed(s: &Server, c: &Client) {
    let articles = json!([
        {"id": "q", "title": "Hegseth warns Mexico over cartels", "body": CARTELS, "published": "2025-03-01"},
        {"id": "tariffs", "title": "Tariffs on Mexican products take effect",
         "body": "The tariffs on Mexican products took effect after talks with Sheinbaum on cartels and fentanyl failed.",
         "published": "2025-03-04", "url": "https://news.example/tariffs"},
        {"id": "sheinbaum", "title": "Sheinbaum answers Hegseth",
         "body": "Claudia Sheinbaum said Mexico would fight the cartels itself and rejected Hegseth's threat.",
         "published": "2025-03-02"},
        {"id": "xss", "title": "<script>alert(1)</script> Cartels and Mexico",
         "body": "Hegseth and Sheinbaum discussed the cartels, Mexico and the military.", "published": "2025-03-03"},
        {"id": "baseball", "title": "Baseball season opens", "body": "The home team won the opening game of the baseball season.",
         "published": "2025-03-05"},
        {"title": ""},
    ]);
    // One item fails: the answer says so with its status, and the other
    // five are stored all the same.
    let (st, v) = body(key(c.post(format!("{}/v1/articles", s.base)), WRITER).json(&articles).send().unwrap());
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!((v["stored"].as_u64(), v["failed"].as_u64()), (Some(5), Some(1)), "{v}");
    assert_eq!(v["results"][0]["status"], "inserted");
    assert!(v["results"][5]["error"]["message"].as_str().unwrap().contains("title"), "{v}");
}

#[test]
fn api_routes_and_their_errors() {
    let reports = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(reports.path().join("ecbplus")).unwrap();
    std::fs::write(reports.path().join("ecbplus/index.html"), "<html>ECB+ report</html>").unwrap();
    let s = start(&["--max-body-bytes", "4000", "--rate-limit-ip", "0", "--reports", reports.path().to_str().unwrap()]);
    let c = client();
    let url = |p: &str| format!("{}{p}", s.base);

    // Operations and documents.
    assert_eq!(c.get(url("/healthz")).send().unwrap().status(), StatusCode::OK);
    let doc: Value = c.get(url("/v1/openapi.json")).send().unwrap().json().unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    for path in [
        "/v1/articles",
        "/v1/articles/{id}",
        "/v1/articles/{id}/related",
        "/v1/articles/{id}/related.html",
        "/v1/related",
        "/v1/events",
        "/v1/users/{id}/recommendations",
        "/v1/users/{id}",
        "/v1/trending",
        "/v1/stories",
        "/v1/stories/{id}",
        "/v1/stories/{id}/story.html",
        "/v1/articles/{id}/story",
        "/v1/articles/{id}/story.html",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    let js = c.get(url("/widget.js")).send().unwrap();
    assert!(js.headers()["content-type"].to_str().unwrap().starts_with("application/javascript"));
    let js = js.text().unwrap();
    assert!(js.contains("sendBeacon") && js.contains("textContent") && !js.contains("innerHTML ="));
    assert!(js.len() < 8 * 1024, "a few KB: {}", js.len());

    // Keys and scopes.
    let put = |k: Option<&str>, id: &str, v: &Value| {
        let r = c.put(url(&format!("/v1/articles/{id}"))).json(v);
        body(
            match k {
                Some(k) => key(r, k),
                None => r,
            }
            .send()
            .unwrap(),
        )
    };
    let art = json!({"title": "Hegseth visits the border", "body": CARTELS, "published": "2025-03-06"});
    let (st, v) = put(None, "border", &art);
    assert_eq!((st, error_code(&v)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    assert_eq!(put(Some("nope"), "border", &art).0, StatusCode::UNAUTHORIZED);
    let (st, v) = put(Some(READER), "border", &art);
    assert_eq!((st, error_code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    assert_eq!(put(Some(WRITER), "border", &art), (StatusCode::CREATED, json!({"id": "border", "status": "inserted"})));
    assert_eq!(put(Some(ADMIN), "border", &art).1["status"], "unchanged");

    // Bad bodies name what is wrong; nothing is stored.
    let raw = |body: &str| body_of(key(c.put(url("/v1/articles/bad")), WRITER).body(body.to_string()));
    let (st, v) = raw("{\"title\": ");
    assert_eq!((st, error_code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));
    assert!(v["error"]["message"].as_str().unwrap().contains("invalid JSON"), "{v}");
    let (st, v) = raw("{\"body\": \"no title\"}");
    assert!(st == StatusCode::BAD_REQUEST && v["error"]["message"].as_str().unwrap().contains("title"), "{v}");
    let (st, v) = raw("{\"title\": \"x\", \"published\": \"someday\"}");
    assert!(st == StatusCode::BAD_REQUEST && v["error"]["message"].as_str().unwrap().contains("published"), "{v}");
    let (st, v) = put(Some(WRITER), "a", &json!({"id": "b", "title": "x"}));
    assert!(st == StatusCode::BAD_REQUEST && v["error"]["message"].as_str().unwrap().contains("`id`"), "{v}");
    let (st, v) = raw(&format!("{{\"title\": \"big\", \"body\": \"{}\"}}", "word ".repeat(2000)));
    assert_eq!((st, error_code(&v)), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
    assert_eq!(key(c.get(url("/v1/articles/bad")), READER).send().unwrap().status(), StatusCode::NOT_FOUND);

    seed(&s, &c);
    let (st, v) = body(key(c.get(url("/v1/articles/tariffs")), READER).send().unwrap());
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (v["url"].as_str(), v["published"].as_str()),
        (Some("https://news.example/tariffs"), Some("2025-03-04T00:00:00Z"))
    );
    let (st, v) = body(key(c.get(url("/v1/articles/nope")), READER).send().unwrap());
    assert_eq!((st, error_code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let ids: Value = key(c.get(url("/v1/articles?limit=2")), READER).send().unwrap().json().unwrap();
    assert_eq!(ids["ids"].as_array().unwrap().len(), 2);
    let rest: Value = key(c.get(url(&format!("/v1/articles?after={}", ids["next"].as_str().unwrap()))), READER)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(rest["ids"].as_array().unwrap().len(), 4, "6 articles in all: {rest}");

    // Related: public, JSON and fragment; the article never recommends itself.
    let (st, v) = body(c.get(url("/v1/articles/q/related?k=3")).send().unwrap());
    assert_eq!(st, StatusCode::OK, "{v}");
    let picks: Vec<&str> = v["picks"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert!(!picks.contains(&"q") && picks.contains(&"sheinbaum") && picks.len() <= 3, "{picks:?}");
    let dense = |p: &Value| {
        p["why"]["signals"].as_array().unwrap().iter().find(|s| s["name"] == "dense").and_then(|s| s["value"].as_f64())
    };
    for p in v["picks"].as_array().unwrap() {
        for k in ["id", "title", "url", "published", "score", "why"] {
            assert!(p.get(k).is_some(), "{k}");
        }
        // Articles written through the API were embedded: the fusion shows.
        assert!(dense(p).is_some_and(|d| d > 0.0), "{p}");
    }
    let (st, v) = body(c.get(url("/v1/articles/q/related?k=0")).send().unwrap());
    assert!(st == StatusCode::BAD_REQUEST && v["error"]["message"].as_str().unwrap().contains("`k`"), "{v}");
    let (st, v) = body(c.get(url("/v1/articles/q/related?since=soon")).send().unwrap());
    assert!(st == StatusCode::BAD_REQUEST && v["error"]["message"].as_str().unwrap().contains("`since`"), "{v}");
    assert_eq!(c.get(url("/v1/articles/nope/related")).send().unwrap().status(), StatusCode::NOT_FOUND);
    let recent: Value = c.get(url("/v1/articles/q/related?since=2025-03-03")).send().unwrap().json().unwrap();
    assert!(recent["picks"].as_array().unwrap().iter().all(|p| p["published"].as_str().unwrap() >= "2025-03-03"));
    let html = c.get(url("/v1/articles/q/related.html")).send().unwrap();
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = html.text().unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>"), "{html}");
    let (st, v) = body(
        key(c.post(url("/v1/related?k=2")), READER)
            .json(&json!({"title": "Sheinbaum rejects Hegseth's cartel threat", "body": CARTELS}))
            .send()
            .unwrap(),
    );
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["query"]["id"].is_null() && !v["picks"].as_array().unwrap().is_empty(), "{v}");
    // The unsaved page is embedded on the fly.
    assert!(v["picks"].as_array().unwrap().iter().all(|p| dense(p).is_some_and(|d| d > 0.0)), "{v}");
    assert_eq!(
        c.post(url("/v1/related")).json(&json!({"title": "x"})).send().unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // Events (public, as the widget sends them: text/plain), trending, readers.
    let events = json!([
        {"user": "ana", "article": "q", "type": "click", "position": 0},
        {"user": "bob", "article": "baseball", "type": "click"},
        {"user": "cy", "article": "baseball", "type": "click"},
        {"user": "cy", "article": "tariffs", "type": "impression", "slate": ["tariffs", "q"]},
        {"user": "ana", "article": "q", "type": "read"},
    ]);
    let (st, v) =
        body(c.post(url("/v1/events")).header("Content-Type", "text/plain").body(events.to_string()).send().unwrap());
    // The invalid fifth makes the answer a 422; the four valid ones count.
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["accepted"], 4);
    assert_eq!((&v["rejected"][0]["index"], &v["rejected"][0]["error"]["code"]), (&json!(4), &json!("invalid_field")));
    assert_eq!(body(c.post(url("/v1/events")).body("[{]").send().unwrap()).0, StatusCode::BAD_REQUEST);
    let (st, v) = body(c.post(url("/v1/events")).body("[{\"user\": \"u\"}]").send().unwrap());
    assert_eq!((st, v["accepted"].as_u64()), (StatusCode::UNPROCESSABLE_ENTITY, Some(0)), "{v}");
    assert!(v["rejected"][0]["error"]["message"].as_str().unwrap().contains("`article`"), "{v}");
    // Events dated far ahead or far behind are valid requests, but they are
    // not counted: each is listed with the field named, and in the metric.
    let far = json!([
        {"user": "dan", "article": "tariffs", "type": "click", "time": "9999-01-01T00:00:00Z"},
        {"user": "dan", "article": "tariffs", "type": "click", "time": -100_000_000_000_000_000_i64},
    ]);
    let (st, v) = body(c.post(url("/v1/events")).body(far.to_string()).send().unwrap());
    assert_eq!((st, v["accepted"].as_u64()), (StatusCode::ACCEPTED, Some(0)), "{v}");
    for (i, r) in v["rejected"].as_array().unwrap().iter().enumerate() {
        assert_eq!((r["index"].as_u64(), &r["error"]["code"]), (Some(i as u64), &json!("out_of_window")), "{v}");
        assert!(r["error"]["message"].as_str().unwrap().contains("`time`"), "{v}");
    }
    let (st, v) = body(key(c.get(url("/v1/trending?k=2&window=1h")), READER).send().unwrap());
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["picks"][0]["id"], "baseball", "{v}");
    assert_eq!(body(key(c.get(url("/v1/trending?window=2w")), READER).send().unwrap()).0, StatusCode::BAD_REQUEST);
    let (st, v) = body(key(c.get(url("/v1/users/ana/recommendations?k=3")), READER).send().unwrap());
    assert_eq!(st, StatusCode::OK, "{v}");
    let recs = v["picks"].as_array().unwrap();
    assert!(!recs.is_empty() && recs.iter().all(|p| p["id"] != "q"), "read articles are excluded: {v}");
    assert!(recs[0]["why"]["summary"].as_str().unwrap().contains("Because you read"), "{v}");
    assert_eq!(v["profile"]["reads"], 1, "the profile follows the click: {v}");
    assert!(v["profile"]["entities"].as_array().unwrap().iter().any(|e| e["key"] == "claudia_sheinbaum"), "{v}");
    assert_eq!(v["profile"]["taste"], true, "the click on an embedded article gives a taste: {v}");
    let (st, v) = body(key(c.get(url("/v1/users/ana/recommendations?article=nope")), READER).send().unwrap());
    assert!(st == StatusCode::NOT_FOUND && v["error"]["message"].as_str().unwrap().contains("`article`"), "{v}");
    assert_eq!(key(c.delete(url("/v1/users/ana")), WRITER).send().unwrap().status(), StatusCode::FORBIDDEN);
    let (st, v) = body(key(c.delete(url("/v1/users/ana")), ADMIN).send().unwrap());
    assert_eq!((st, v["events_removed"].as_u64()), (StatusCode::OK, Some(1)));
    let v: Value = key(c.get(url("/v1/users/ana/recommendations?k=3")), READER).send().unwrap().json().unwrap();
    assert!(v["picks"][0]["why"]["summary"].as_str().unwrap().starts_with("Trending"), "forgotten: cold start {v}");
    assert_eq!(v["profile"]["reads"], 0, "the profile is erased too: {v}");
    assert_eq!(v["profile"]["taste"], false, "and the taste: {v}");

    // Rules: pins and blocks apply to every block.
    assert_eq!(
        key(c.put(url("/v1/rules/pins/q")), WRITER).json(&json!(["baseball"])).send().unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        key(c.put(url("/v1/rules/pins/q")), ADMIN).json(&json!(["baseball"])).send().unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(key(c.put(url("/v1/rules/blocked/sheinbaum")), ADMIN).send().unwrap().status(), StatusCode::OK);
    assert_eq!(
        key(c.put(url("/v1/rules/pins/nope")), ADMIN).json(&json!([])).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let v: Value = c.get(url("/v1/articles/q/related")).send().unwrap().json().unwrap();
    assert_eq!(v["picks"][0]["id"], "baseball", "{v}");
    assert!(v["picks"].as_array().unwrap().iter().all(|p| p["id"] != "sheinbaum"), "{v}");
    let rules: Value = key(c.get(url("/v1/rules")), READER).send().unwrap().json().unwrap();
    assert_eq!(rules["blocked"], json!(["sheinbaum"]));
    assert_eq!(key(c.delete(url("/v1/rules/blocked/sheinbaum")), ADMIN).send().unwrap().status(), StatusCode::OK);

    // Delete.
    assert_eq!(key(c.delete(url("/v1/articles/border")), WRITER).send().unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(key(c.delete(url("/v1/articles/border")), WRITER).send().unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(key(c.get(url("/v1/articles/border")), READER).send().unwrap().status(), StatusCode::NOT_FOUND);

    // Errors from routing and decoding are JSON too.
    let (st, v) = body(c.get(url("/v2/nothing")).send().unwrap());
    assert_eq!((st, error_code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (st, v) = body(key(c.patch(url("/v1/articles/q")), ADMIN).send().unwrap());
    assert_eq!((st, error_code(&v)), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    let (st, v) = body(c.get(url("/v1/articles/%FF%FE/related")).send().unwrap());
    assert_eq!((st, error_code(&v)), (StatusCode::BAD_REQUEST, "bad_request"), "{v}");

    // Readiness and metrics.
    let (st, v) = body(c.get(url("/readyz")).send().unwrap());
    assert_eq!((st, v["articles"].as_u64()), (StatusCode::OK, Some(5)));
    assert_eq!(c.get(url("/metrics")).send().unwrap().status(), StatusCode::UNAUTHORIZED);
    let m = key(c.get(url("/metrics")), READER).send().unwrap().text().unwrap();
    assert!(
        m.contains("readnext_http_requests_total{method=\"GET\",route=\"/v1/articles/{id}/related\",status=\"200\"}"),
        "{m}"
    );
    assert!(m.contains(
        "readnext_http_request_duration_seconds_bucket{method=\"PUT\",route=\"/v1/articles/{id}\",le=\"+Inf\"}"
    ));
    assert!(m.contains("readnext_articles 5") && m.contains("readnext_index_lag 0"), "{m}");
    assert!(!m.contains(ADMIN) && !m.contains(READER), "no secrets in metrics");
    for reason in ["future", "too_old", "invalid"] {
        assert!(m.contains(&format!("readnext_events_rejected_total{{reason=\"{reason}\"}}")), "{reason}: {m}");
    }

    // The editor page: sign-in, then an article's block with escaped text.
    let r = c.get(url("/ui")).send().unwrap();
    assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/ui/login"));
    assert_eq!(c.post(url("/ui/login")).form(&[("key", READER)]).send().unwrap().status(), StatusCode::UNAUTHORIZED);
    let r = c.post(url("/ui/login")).form(&[("key", ADMIN)]).send().unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let page = c.get(url("/ui?q=cartels")).header("Cookie", &cookie).send().unwrap().text().unwrap();
    assert!(page.contains("/ui/articles/q") && page.contains("&lt;script&gt;"), "{page}");
    let page = c.get(url("/ui/articles/q")).header("Cookie", &cookie).send().unwrap().text().unwrap();
    assert!(page.contains("Chosen by the editors") && page.contains("text="), "pins and signals shown: {page}");
    let r = c
        .post(url("/ui/rules"))
        .header("Cookie", &cookie)
        .form(&[("action", "block"), ("owner", "q"), ("id", "tariffs")])
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let v: Value = c.get(url("/v1/articles/q/related")).send().unwrap().json().unwrap();
    assert!(v["picks"].as_array().unwrap().iter().all(|p| p["id"] != "tariffs"), "blocked from the editor page: {v}");
    let r =
        c.post(url("/ui/rules")).header("Cookie", &cookie).form(&[("action", "explode"), ("id", "q")]).send().unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn stories_their_fragment_and_the_story_block_over_http() {
    let s = start(&["--rate-limit-ip", "0"]);
    let c = client();
    let url = |p: &str| format!("{}{p}", s.base);
    seed(&s, &c);

    // An article's story is public (the widget shows it): the Hegseth
    // articles in date order, the story named by its first article.
    let (st, story) = body(c.get(url("/v1/articles/sheinbaum/story")).send().unwrap());
    assert_eq!(st, StatusCode::OK, "{story}");
    assert_eq!(story["id"], "q", "{story}");
    let ids: Vec<&str> = story["timeline"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"sheinbaum") && !ids.contains(&"baseball"), "{ids:?}");
    let dates: Vec<&str> =
        story["timeline"].as_array().unwrap().iter().filter_map(|e| e["published"].as_str()).collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{dates:?}");
    assert_eq!(story["first"], "2025-03-01");
    assert_eq!(body(c.get(url("/v1/articles/nope/story")).send().unwrap()).0, StatusCode::NOT_FOUND);
    let html = c.get(url("/v1/articles/q/story.html")).send().unwrap();
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = html.text().unwrap();
    assert!(html.contains("readnext-timeline") && !html.contains("<script>"), "{html}");

    // The story endpoints need a read key; a story's id is its first article's.
    assert_eq!(c.get(url("/v1/stories")).send().unwrap().status(), StatusCode::UNAUTHORIZED);
    let (st, one) = body(key(c.get(url("/v1/stories/q")), READER).send().unwrap());
    assert_eq!((st, &one["timeline"]), (StatusCode::OK, &story["timeline"]));
    let (st, v) = body(key(c.get(url("/v1/stories/sheinbaum")), READER).send().unwrap());
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("first article"), "{v}");
    let (st, list) = body(key(c.get(url("/v1/stories?k=10&timeline=1")), READER).send().unwrap());
    assert_eq!(st, StatusCode::OK, "{list}");
    let listed: Vec<&str> = list["stories"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(listed, ["baseball", "q"], "newest article first: {list}");
    assert!(list["stories"].as_array().unwrap().iter().all(|s| s["timeline"].as_array().unwrap().len() == 1));
    let (st, v) = body(key(c.get(url("/v1/stories?order=loudest")), READER).send().unwrap());
    assert_eq!((st, error_code(&v)), (StatusCode::BAD_REQUEST, "invalid_field"), "{v}");
    let (st, v) = body(key(c.get(url("/v1/stories?since=2025-03-05")), READER).send().unwrap());
    assert_eq!((st, v["stories"].as_array().unwrap().len()), (StatusCode::OK, 1), "{v}");

    // Trending stories come from the clicks on their articles.
    let (st, v) = body(key(c.get(url("/v1/stories?order=trending")), READER).send().unwrap());
    assert_eq!((st, v["stories"].as_array().unwrap().len()), (StatusCode::OK, 0), "nobody read anything: {v}");
    let events = json!([
        {"user": "ana", "article": "tariffs", "type": "click"},
        {"user": "bob", "article": "sheinbaum", "type": "click"},
        {"user": "cy", "article": "baseball", "type": "click"},
    ]);
    assert_eq!(c.post(url("/v1/events")).json(&events).send().unwrap().status(), StatusCode::ACCEPTED);
    let (_, v) = body(key(c.get(url("/v1/stories?order=trending")), READER).send().unwrap());
    let trending: Vec<&str> = v["stories"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(trending, ["q", "baseball"], "two reads beat one: {v}");

    // The related block marks picks of the query's story; asked as a
    // story, it answers the story so far and background from outside it.
    let (_, block) = body(c.get(url("/v1/articles/sheinbaum/related")).send().unwrap());
    let tariffs = block["picks"].as_array().unwrap().iter().find(|p| p["id"] == "tariffs").unwrap();
    assert_eq!(tariffs["why"]["story"], "q", "{block}");
    assert!(tariffs["why"]["summary"].as_str().unwrap().starts_with("Same story, 2025-03-04"), "{block}");
    let (st, block) = body(c.get(url("/v1/articles/sheinbaum/related?story=true")).send().unwrap());
    assert_eq!(st, StatusCode::OK, "{block}");
    assert_eq!(block["story"]["id"], "q");
    assert!(block["picks"].as_array().unwrap().iter().all(|p| !ids.contains(&p["id"].as_str().unwrap())), "{block}");
    let (st, v) = body(c.get(url("/v1/articles/q/related?story=maybe")).send().unwrap());
    assert_eq!((st, error_code(&v)), (StatusCode::BAD_REQUEST, "invalid_field"), "{v}");
    let page = json!({"title": "Hegseth and Sheinbaum clash over the cartels",
        "body": "Hegseth said the military could act against the cartels in Mexico; Sheinbaum rejected it.",
        "published": "2025-03-06"});
    let (st, block) = body(key(c.post(url("/v1/related?story=true")), READER).json(&page).send().unwrap());
    assert_eq!((st, &block["story"]["id"]), (StatusCode::OK, &json!("q")), "an unsaved page finds its story: {block}");

    // Editors split and merge, over the API (admin) and the editor page.
    let split = url("/v1/rules/stories/split/sheinbaum");
    assert_eq!(key(c.put(&split), READER).send().unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(key(c.put(url("/v1/rules/stories/split/nope")), ADMIN).send().unwrap().status(), StatusCode::NOT_FOUND);
    let (st, rules) = body(key(c.put(&split), ADMIN).send().unwrap());
    assert_eq!((st, &rules["stories"]["splits"]), (StatusCode::OK, &json!(["sheinbaum"])), "{rules}");
    assert_eq!(body(c.get(url("/v1/articles/sheinbaum/story")).send().unwrap()).1["id"], "sheinbaum");
    let merge = url("/v1/rules/stories/merges/baseball");
    let (st, v) = body(key(c.put(&merge), ADMIN).json(&json!({"into": "nowhere"})).send().unwrap());
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("into"), "{v}");
    let (st, rules) = body(key(c.put(&merge), ADMIN).json(&json!({"into": "q"})).send().unwrap());
    assert_eq!((st, &rules["stories"]["merges"]["baseball"]), (StatusCode::OK, &json!("q")), "{rules}");
    assert_eq!(body(c.get(url("/v1/articles/baseball/story")).send().unwrap()).1["id"], "q");
    assert_eq!(key(c.delete(&merge), ADMIN).send().unwrap().status(), StatusCode::OK);
    assert_eq!(key(c.delete(&split), ADMIN).send().unwrap().status(), StatusCode::OK);
    assert_eq!(body(c.get(url("/v1/articles/baseball/story")).send().unwrap()).1["id"], "baseball");
    assert_eq!(body(c.get(url("/v1/articles/sheinbaum/story")).send().unwrap()).1["id"], "q");

    let r = c.post(url("/ui/login")).form(&[("key", ADMIN)]).send().unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let list = c.get(url("/ui/stories")).header("Cookie", &cookie).send().unwrap().text().unwrap();
    assert!(list.contains("/ui/stories/q") && list.contains("/ui/stories/baseball"), "{list}");
    let page = c.get(url("/ui/stories/q")).header("Cookie", &cookie).send().unwrap().text().unwrap();
    assert!(page.contains("split off") && page.contains("&lt;script&gt;") && !page.contains("<script>alert"), "{page}");
    let r = c
        .post(url("/ui/rules"))
        .header("Cookie", &cookie)
        .form(&[("action", "split"), ("id", "tariffs")])
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(body(c.get(url("/v1/articles/tariffs/story")).send().unwrap()).1["id"], "tariffs");
    let r = c
        .post(url("/ui/rules"))
        .header("Cookie", &cookie)
        .form(&[("action", "merge"), ("id", "tariffs")])
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a merge names the story it joins");
}

fn body_of(r: RequestBuilder) -> (StatusCode, Value) {
    body(r.send().unwrap())
}

#[test]
fn rate_limits_cors_and_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("readnext.toml");
    std::fs::write(&cfg, "rate_limit_ip = 2\ncors_origins = [\"https://news.example\"]\n").unwrap();
    let s = start_in(dir, &["--config", cfg.to_str().unwrap()]);
    let c = client();
    // Per IP: a burst of twice the rate, then 429 with Retry-After.
    let codes: Vec<StatusCode> =
        (0..8).map(|_| c.get(format!("{}/healthz", s.base)).send().unwrap().status()).collect();
    assert!(codes.contains(&StatusCode::TOO_MANY_REQUESTS), "{codes:?}");
    let r = c.get(format!("{}/healthz", s.base)).send().unwrap();
    assert_eq!(r.headers()["retry-after"], "1");
    // A valid key has its own, larger budget.
    assert_eq!(key(c.get(format!("{}/v1/trending", s.base)), READER).send().unwrap().status(), StatusCode::OK);
    // CORS: the configured origin may call the widget's routes; another may not.
    let pre = c
        .request(reqwest::Method::OPTIONS, format!("{}/v1/events", s.base))
        .header("Origin", "https://news.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .unwrap();
    assert_eq!(pre.headers()["access-control-allow-origin"], "https://news.example");
    let other = c
        .request(reqwest::Method::OPTIONS, format!("{}/v1/events", s.base))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn a_bad_config_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "adress = \"x\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_readnext"))
        .arg("--store")
        .arg(dir.path().join("s"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("adress"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_readnext"))
        .arg("--store")
        .arg(dir.path().join("s"))
        .args(["serve", "--api-keys", "k=root"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("root"));
    let _ = Path::new("");
}
