//! The JSON API (`/v1`), the fragment, the widget script and the
//! operational endpoints.

use std::collections::HashMap;
use std::str::FromStr;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use readnext_core::{Article, Event, Rules, Story, format_datetime, parse_date, stable_id};
use readnext_index::Filter;
use readnext_ingest::{JsonArticle, host, parse_event};
use readnext_recommend::{RelatedOptions, StoryOrder, StoryQuery, UserOptions};
use readnext_render::{Block, BlockQuery};
use readnext_store::{Applied, Record, Write};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::writes::{self, Commit, submit};
use crate::{Shared, blocking, typed};
use readnext_recommend::now_ms;

const WIDGET_JS: &str = include_str!("../assets/widget.js");
/// Most picks one request may ask for.
pub(crate) const MAX_K: usize = 100;
/// Most articles or events in one batch.
pub(crate) const MAX_BATCH: usize = 10_000;
pub(crate) use readnext_ingest::MAX_ID_CHARS;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/cluster", get(cluster_status))
        .route("/widget.js", get(|| async { typed("application/javascript; charset=utf-8", WIDGET_JS) }))
        .route("/v1/openapi.json", get(|| async { Json(crate::openapi::document()) }))
        .route("/v1/articles", post(post_articles).get(list_articles))
        .route("/v1/articles/{id}", get(get_article).put(put_article).delete(delete_article))
        .route("/v1/articles/{id}/related", get(related_json))
        .route("/v1/articles/{id}/related.html", get(related_html))
        .route("/v1/articles/{id}/story", get(article_story))
        .route("/v1/articles/{id}/story.html", get(article_story_html))
        .route("/v1/stories", get(list_stories))
        .route("/v1/stories/{id}", get(get_story))
        .route("/v1/stories/{id}/story.html", get(get_story_html))
        .route("/v1/related", post(related_unsaved))
        .route("/v1/events", post(post_events))
        .route("/v1/users/{id}/recommendations", get(user_recommendations))
        .route("/v1/users/{id}", delete(forget_user))
        .route("/v1/trending", get(trending))
        .route("/v1/rules", get(get_rules))
        .route("/v1/rules/pins/{owner}", put(put_pins))
        .route("/v1/rules/blocked/{id}", put(block).delete(unblock))
        .route("/v1/rules/stories/split/{id}", put(split_story).delete(unsplit_story))
        .route("/v1/rules/stories/merges/{from}", put(merge_stories).delete(unmerge_story))
}

type Params = Query<HashMap<String, String>>;

/// A query parameter, parsed; the error names it. An empty value is an
/// absent one (a widget's template may leave it blank); any other value
/// must parse as it is, as the OpenAPI document says.
fn param<T: FromStr>(q: &HashMap<String, String>, name: &str) -> Result<Option<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    match q.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|e| ApiError::field(name, format!("{v:?}: {e}"))),
    }
}

/// A number in the query: absent, or a number. Unlike a text parameter,
/// an empty value is not an absent one: the document declares an integer.
fn number(q: &HashMap<String, String>, name: &str) -> Result<Option<usize>, ApiError> {
    if q.get(name).is_some_and(|v| v.is_empty()) {
        return Err(ApiError::field(name, "is empty: give a number, or leave the parameter out"));
    }
    param(q, name)
}

fn k_param(q: &HashMap<String, String>, default: usize) -> Result<usize, ApiError> {
    let k = number(q, "k")?.unwrap_or(default);
    if k == 0 || k > MAX_K {
        return Err(ApiError::field("k", format!("must be between 1 and {MAX_K}")));
    }
    Ok(k)
}

/// The body, or 413 past the limit.
pub(crate) fn body(state: &Shared, b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.config.max_body_bytes)
        } else {
            ApiError::bad_request(e.body_text())
        }
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

async fn readyz(State(s): State<Shared>) -> Response {
    let engine = s.engine.clone();
    let r = blocking(move || {
        let articles = engine.store().len().map_err(ApiError::internal)?;
        let lag = engine
            .store()
            .last_seq()
            .map_err(ApiError::internal)?
            .saturating_sub(engine.index().applied_seq().map_err(ApiError::internal)?);
        Ok((articles, lag))
    })
    .await;
    // A cluster node is ready once it has caught up with the log.
    let cluster = s.cluster.as_ref().map(|c| (c.follower.lag(), c.follower.stuck(), c.log.config().ready_lag));
    if let (Ok((articles, _)), Some((lag, stuck, ready_lag))) = (&r, &cluster)
        && (lag.messages > *ready_lag || stuck.is_some())
    {
        let mut body = json!({"ready": false, "articles": articles, "cluster_lag": lag.messages});
        if let Some(why) = stuck {
            body["stuck"] = json!(why);
        }
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    match r {
        Ok((articles, 0)) => {
            let mut body = json!({"ready": true, "articles": articles, "warm": s.engine.is_warm()});
            if let Some((lag, _, _)) = cluster {
                body["cluster_lag"] = json!(lag.messages);
            }
            Json(body).into_response()
        }
        Ok((articles, lag)) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"ready": false, "articles": articles, "index_lag": lag})))
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn metrics(State(s): State<Shared>) -> Result<Response, ApiError> {
    let engine = s.engine.clone();
    let (articles, bytes, lag, events) = blocking(move || {
        let st = engine.store();
        let lag = st
            .last_seq()
            .map_err(ApiError::internal)?
            .saturating_sub(engine.index().applied_seq().map_err(ApiError::internal)?);
        let bytes = std::fs::metadata(st.path()).map(|m| m.len()).unwrap_or(0);
        Ok((st.len().map_err(ApiError::internal)?, bytes, lag, st.event_count().map_err(ApiError::internal)?))
    })
    .await?;
    let text = s.metrics.render(&[
        ("readnext_articles", "Stored articles.", articles as f64),
        ("readnext_events", "Stored reading events.", events as f64),
        ("readnext_store_bytes", "Size of the store file.", bytes as f64),
        ("readnext_index_bytes", "Size of the BM25 index.", s.engine.index().size_bytes() as f64),
        ("readnext_index_lag", "Store changes the index has not applied.", lag as f64),
        (
            "readnext_cached_blocks",
            "Blocks cached (the warmer keeps every default block computed).",
            s.engine.cached_blocks() as f64,
        ),
        (
            "readnext_stale_blocks",
            "Articles whose cached blocks wait to be refreshed after a write.",
            s.engine.stale_blocks() as f64,
        ),
        ("readnext_uptime_seconds", "Seconds since the server started.", s.started.elapsed().as_secs_f64()),
    ]);
    let text = match &s.cluster {
        None => text,
        Some(c) => {
            let lag = c.follower.lag();
            text + &crate::metrics::gauges(&[
                (
                    "readnext_cluster_applied_sequence",
                    "The write log's last sequence this node applied.",
                    lag.applied as f64,
                ),
                ("readnext_cluster_last_sequence", "The write log's last sequence, as last read.", lag.last as f64),
                ("readnext_cluster_lag_messages", "Writes in the log this node has not applied.", lag.messages as f64),
                (
                    "readnext_cluster_lag_seconds",
                    "How long ago the last applied write was published, while writes are pending (0 when none is).",
                    lag.seconds,
                ),
                (
                    "readnext_cluster_stuck",
                    "1 when this node stopped applying the log (see /readyz).",
                    f64::from(u8::from(c.follower.stuck().is_some())),
                ),
            ])
        }
    };
    Ok(typed("text/plain; version=0.0.4", text))
}

/// This node: single or cluster, its place in the log, and its store's
/// digest, which the cluster's convergence check compares across nodes.
async fn cluster_status(State(s): State<Shared>) -> Result<Json<Value>, ApiError> {
    let engine = s.engine.clone();
    let digest = blocking(move || engine.store().digest().map_err(ApiError::internal)).await?;
    let digest = serde_json::to_value(digest).map_err(ApiError::internal)?;
    Ok(Json(match &s.cluster {
        None => json!({"mode": "single", "digest": digest}),
        Some(c) => {
            let lag = c.follower.lag();
            let cfg = c.log.config();
            json!({"mode": "cluster", "node": cfg.node, "stream": cfg.stream, "applied": lag.applied, "last": lag.last,
                   "lag": {"messages": lag.messages, "seconds": lag.seconds}, "stuck": c.follower.stuck(), "digest": digest})
        }
    }))
}

/// An article in the JSON Lines schema of `readnext ingest`.
#[derive(Serialize)]
struct ArticleOut<'a> {
    id: &'a str,
    url: &'a Option<String>,
    title: &'a str,
    dek: &'a Option<String>,
    body: &'a [String],
    published: Option<String>,
    lang: &'a str,
    section: &'a Option<String>,
    tags: &'a [String],
    authors: &'a [String],
    image: &'a Option<String>,
}

fn article_json(r: &Record) -> Value {
    let a = &r.article;
    serde_json::to_value(ArticleOut {
        id: &a.id,
        url: &a.url,
        title: &a.title,
        dek: &a.dek,
        body: &a.body,
        published: a.published.map(format_datetime),
        lang: &r.analysis.lang,
        section: &a.section,
        tags: &a.tags,
        authors: &a.authors,
        image: &a.image,
    })
    .unwrap_or(Value::Null)
}

async fn list_articles(State(s): State<Shared>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let limit = number(&q, "limit")?.unwrap_or(1000);
    if limit == 0 || limit > MAX_BATCH {
        return Err(ApiError::field("limit", format!("must be between 1 and {MAX_BATCH}")));
    }
    let after: Option<String> = param(&q, "after")?;
    let engine = s.engine.clone();
    blocking(move || {
        let ids = engine.store().ids_after(after.as_deref(), limit).map_err(ApiError::internal)?;
        let next = if ids.len() == limit { ids.last().cloned() } else { None };
        Ok(Json(json!({"ids": ids, "next": next})))
    })
    .await
}

async fn get_article(State(s): State<Shared>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let engine = s.engine.clone();
    blocking(move || match engine.store().get(&id).map_err(ApiError::internal)? {
        Some(r) => Ok(Json(article_json(&r))),
        None => Err(ApiError::not_found(format!("no article with id {id:?}"))),
    })
    .await
}

/// A JSON article of the API as a stored record. `path_id`, when given,
/// is the id (a different id in the body is an error).
fn record_of(v: Value, path_id: Option<&str>) -> Result<Record, ApiError> {
    let ja: JsonArticle = serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("article: {e}")))?;
    let mut a: Article = ja.into_article().map_err(ApiError::bad_request)?;
    if let Some(pid) = path_id {
        if !a.id.is_empty() && a.id != pid {
            return Err(ApiError::field("id", format!("{:?} differs from the id in the path, {pid:?}", a.id)));
        }
        a.id = pid.to_string();
    }
    a.id = stable_id(Some(&a.id), a.url.as_deref(), &a.title, &a.body);
    if a.source.is_none() {
        a.source = a.url.as_deref().and_then(host);
    }
    let analysis = readnext_analysis::analyze(&a).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Record { article: a, analysis, vector: None })
}

fn status_name(a: Applied) -> &'static str {
    match a {
        Applied::Inserted => "inserted",
        Applied::Updated => "updated",
        Applied::Unchanged => "unchanged",
        Applied::Deleted => "deleted",
        Applied::Missing => "missing",
        Applied::Replayed => "replayed",
        Applied::Recorded(_) | Applied::Forgotten(_) | Applied::Vectors(_) | Applied::Changed => "applied",
    }
}

async fn put_article(
    State(s): State<Shared>,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body(&s, b)?;
    let v: Value = parse_json(&bytes)?;
    let engine = s.engine.clone();
    let rec = blocking(move || {
        let mut rec = record_of(v, Some(&id))?;
        engine.embed_records(std::slice::from_mut(&mut rec), &|_| {})?;
        Ok(rec)
    })
    .await?;
    let id = rec.article.id.clone();
    let out = submit(&s, vec![Write::Upsert(Box::new(rec))], Commit::Deferred).await?;
    let (code, status) = match out.applied.first().copied().flatten() {
        Some(Applied::Inserted) => (StatusCode::CREATED, "inserted"),
        Some(a) => (StatusCode::OK, status_name(a)),
        None => (StatusCode::ACCEPTED, "accepted"),
    };
    Ok((code, Json(with_sequence(json!({"id": id, "status": status}), out.sequence))).into_response())
}

/// Adds the write log's sequence to an answer, in cluster mode.
fn with_sequence(mut v: Value, seq: Option<u64>) -> Value {
    if let Some(seq) = seq {
        v["sequence"] = json!(seq);
    }
    v
}

async fn post_articles(State(s): State<Shared>, b: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let bytes = body(&s, b)?;
    let items = match parse_json::<Value>(&bytes)? {
        Value::Array(a) => a,
        Value::Object(mut o) if o.contains_key("articles") => match o.remove("articles") {
            Some(Value::Array(a)) => a,
            _ => return Err(ApiError::field("articles", "must be an array")),
        },
        _ => return Err(ApiError::bad_request("expected an array of articles (or {\"articles\": [...]})")),
    };
    if items.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!("at most {MAX_BATCH} articles per request")));
    }
    let engine = s.engine.clone();
    let (mut results, slots, records) = blocking(move || {
        // Each article is checked alone; the valid ones are written together.
        let mut results: Vec<Value> = Vec::with_capacity(items.len());
        let mut writes = Vec::new();
        let mut slots = Vec::new();
        for (i, v) in items.into_iter().enumerate() {
            match record_of(v, None) {
                Ok(r) => {
                    results.push(json!({"index": i, "id": r.article.id}));
                    slots.push(i);
                    writes.push(r);
                }
                Err(e) => results.push(json!({"index": i, "error": {"code": e.code, "message": e.message}})),
            }
        }
        let mut records: Vec<Record> = writes;
        engine.embed_records(&mut records, &|_| {})?;
        Ok((results, slots, records))
    })
    .await?;
    let writes: Vec<Write> = records.into_iter().map(|r| Write::Upsert(Box::new(r))).collect();
    let out = if writes.is_empty() {
        writes::Outcome { applied: vec![], sequence: None }
    } else {
        submit(&s, writes, Commit::Deferred).await?
    };
    for (slot, a) in slots.into_iter().zip(&out.applied) {
        results[slot]["status"] = json!(a.map_or("accepted", status_name));
    }
    let failed = results.iter().filter(|r| r.get("error").is_some()).count();
    // 200 says every item was stored; a failed item makes the answer a
    // 422, though the valid items were stored all the same (the body
    // says which).
    let code = if failed == 0 { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let body = json!({"stored": results.len() - failed, "failed": failed, "results": results});
    Ok((code, Json(with_sequence(body, out.sequence))).into_response())
}

async fn delete_article(State(s): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    if s.cluster.is_some() {
        // A delete of an unknown id is answered 404 without a trip
        // through the log.
        stored_article(&s, &id).await?;
    }
    let out = submit(&s, vec![Write::Delete(id.clone())], Commit::Deferred).await?;
    match out.applied.first().copied().flatten() {
        Some(Applied::Deleted) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Ok((StatusCode::ACCEPTED, Json(with_sequence(json!({"id": id, "status": "accepted"}), out.sequence)))
            .into_response()),
        Some(_) => Err(ApiError::not_found(format!("no article with id {id:?}"))),
    }
}

fn related_options(q: &HashMap<String, String>) -> Result<RelatedOptions, ApiError> {
    let since = match q.get("since").filter(|s| !s.is_empty()) {
        Some(s) => Some(parse_date(s).map_err(|e| ApiError::field("since", e))?),
        None => None,
    };
    Ok(RelatedOptions {
        k: k_param(q, 8)?,
        filter: Filter { lang: param(q, "lang")?, since, section: param(q, "section")?, until: None },
        ..RelatedOptions::default()
    })
}

/// Whether `?story=` asks for the block as the story so far plus
/// background.
fn story_layout(q: &HashMap<String, String>) -> Result<bool, ApiError> {
    match q.get("story").map(String::as_str) {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(ApiError::field("story", format!("expected true or false, got {other:?}"))),
    }
}

async fn block_for(s: &Shared, id: String, q: &HashMap<String, String>) -> Result<Block, ApiError> {
    let opts = related_options(q)?;
    if story_layout(q)? {
        let engine = s.engine.clone();
        return blocking(move || {
            let query = engine.query_for_id(&id)?;
            let (story, picks) = engine.story_block(&query, None, &opts, now_ms())?;
            Ok(Block { query: BlockQuery { id: Some(id), title: query.title }, picks, story })
        })
        .await;
    }
    // A cached block is answered here, on the event loop: it costs a lock
    // and a copy, less than handing it to the blocking pool, and it keeps
    // that pool's threads (and the cores) for computations and writes.
    if let Some((title, picks)) = s.engine.cached_related(&id, &opts) {
        return Ok(Block { query: BlockQuery { id: Some(id), title }, picks, story: None });
    }
    let engine = s.engine.clone();
    blocking(move || {
        let (title, picks) = engine.related_to_id(&id, &opts)?;
        Ok(Block { query: BlockQuery { id: Some(id), title }, picks, story: None })
    })
    .await
}

async fn related_json(
    State(s): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Result<Json<Block>, ApiError> {
    Ok(Json(block_for(&s, id, &q).await?))
}

async fn related_html(State(s): State<Shared>, Path(id): Path<String>, Query(q): Params) -> Result<Response, ApiError> {
    let block = block_for(&s, id, &q).await?;
    Ok(typed("text/html; charset=utf-8", readnext_render::html(&block)))
}

async fn related_unsaved(
    State(s): State<Shared>,
    Query(q): Params,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Block>, ApiError> {
    let bytes = body(&s, b)?;
    let v: Value = parse_json(&bytes)?;
    let opts = related_options(&q)?;
    let as_story = story_layout(&q)?;
    let engine = s.engine.clone();
    blocking(move || {
        let rec = record_of(v, None)?;
        // Not stored: the page is not yet published.
        let query = engine.query_for_article(&rec.article, false)?;
        let (story, picks) = if as_story {
            engine.story_block(&query, Some(&rec.article), &opts, now_ms())?
        } else {
            (None, engine.related(&query, &opts)?)
        };
        Ok(Json(Block { query: BlockQuery { id: None, title: query.title }, picks, story }))
    })
    .await
}

async fn article_story(State(s): State<Shared>, Path(id): Path<String>) -> Result<Json<Story>, ApiError> {
    let engine = s.engine.clone();
    blocking(move || Ok(Json(engine.story_of_article(&id, now_ms())?))).await
}

async fn article_story_html(State(s): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let Json(story) = article_story(State(s), Path(id)).await?;
    Ok(typed("text/html; charset=utf-8", readnext_render::story_html(&story)))
}

async fn get_story(State(s): State<Shared>, Path(id): Path<String>) -> Result<Json<Story>, ApiError> {
    let engine = s.engine.clone();
    blocking(move || match engine.story(&id, now_ms())? {
        Some(story) => Ok(Json(story)),
        None => Err(ApiError::not_found(format!("no story with id {id:?} (a story's id is its first article's)"))),
    })
    .await
}

async fn get_story_html(State(s): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let Json(story) = get_story(State(s), Path(id)).await?;
    Ok(typed("text/html; charset=utf-8", readnext_render::story_html(&story)))
}

/// `GET /v1/stories?order=recent|trending&k=&since=&timeline=&window=`.
async fn list_stories(State(s): State<Shared>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let k = k_param(&q, 10)?;
    let since = match q.get("since").filter(|s| !s.is_empty()) {
        Some(v) => Some(parse_date(v).map_err(|e| ApiError::field("since", e))?),
        None => None,
    };
    let order = match q.get("order").map(String::as_str) {
        None | Some("" | "recent") => StoryOrder::Recent,
        Some("trending") => StoryOrder::Trending,
        Some(other) => return Err(ApiError::field("order", format!("expected recent or trending, got {other:?}"))),
    };
    let timeline = number(&q, "timeline")?.unwrap_or(3);
    if timeline > MAX_K {
        return Err(ApiError::field("timeline", format!("at most {MAX_K}")));
    }
    let window = window_ms(&q)?;
    let engine = s.engine.clone();
    blocking(move || {
        let query = StoryQuery { since, k, order, timeline, now_ms: now_ms(), window_ms: window };
        Ok(Json(json!({ "order": if order == StoryOrder::Recent { "recent" } else { "trending" }, "stories": engine.stories(&query)? })))
    })
    .await
}

async fn post_events(State(s): State<Shared>, b: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    // The widget sends with `navigator.sendBeacon` as text/plain (no CORS
    // preflight); the content type is not checked.
    let bytes = body(&s, b)?;
    let items = match parse_json::<Value>(&bytes)? {
        Value::Array(a) => a,
        Value::Object(mut o) if o.contains_key("events") => match o.remove("events") {
            Some(Value::Array(a)) => a,
            _ => return Err(ApiError::field("events", "must be an array")),
        },
        one @ Value::Object(_) => vec![one],
        _ => return Err(ApiError::bad_request("expected an event, an array of events, or {\"events\": [...]}")),
    };
    if items.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!("at most {MAX_BATCH} events per request")));
    }
    let now = now_ms();
    let mut events = Vec::new();
    let mut rejected = Vec::new();
    let mut invalid = 0;
    for (i, v) in items.iter().enumerate() {
        let problem = match parse_event(v, now) {
            Err(e) => {
                invalid += 1;
                Some(("invalid", "invalid_field", e.to_string()))
            }
            Ok(e) => match check_event_time(&e, now) {
                Some((reason, message)) => Some((reason, "out_of_window", message)),
                None => {
                    events.push(e);
                    None
                }
            },
        };
        if let Some((reason, code, message)) = problem {
            s.metrics.reject_event(reason);
            rejected.push(json!({"index": i, "error": {"code": code, "message": message}}));
        }
    }
    let (accepted, sequence) = if events.is_empty() {
        (0, None)
    } else {
        let n = events.len();
        let out = submit(&s, vec![Write::Events(events)], Commit::Now).await?;
        // Not applied here yet (cluster mode): the log has them all.
        (out.recorded().unwrap_or(n), out.sequence)
    };
    // 202 says every event was valid; one that breaks the schema makes the
    // answer a 422, though the valid ones were recorded all the same. An
    // event dated outside the counters' window is valid: it is listed, and
    // counted in the metric, but not an error of the request.
    let code = if invalid == 0 { StatusCode::ACCEPTED } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((code, Json(with_sequence(json!({"accepted": accepted, "rejected": rejected}), sequence))).into_response())
}

/// How far ahead of the server's clock an event may be dated (clock skew
/// between a reader's browser or a CMS and the server).
pub const MAX_EVENT_SKEW_MS: i64 = 5 * 60_000;

/// An event dated in the future (beyond [`MAX_EVENT_SKEW_MS`]) or before the
/// counters' horizon ([`readnext_recommend::HORIZON_MS`], 30 days) is
/// refused: it would count in no window, or distort trending for good.
/// Answers the metric's reason and the message, or `None` when the time
/// is inside the window.
fn check_event_time(e: &Event, now: i64) -> Option<(&'static str, String)> {
    if e.time_ms > now.saturating_add(MAX_EVENT_SKEW_MS) {
        return Some(("future", "`time`: more than 5 minutes after the server's clock".to_string()));
    }
    if e.time_ms < now.saturating_sub(readnext_recommend::HORIZON_MS) {
        return Some(("too_old", "`time`: older than the 30-day horizon of the counters".to_string()));
    }
    None
}

/// `24h`, `7d`, `90m`, `3600s` or plain seconds.
fn window_ms(q: &HashMap<String, String>) -> Result<i64, ApiError> {
    let Some(w) = q.get("window").map(String::as_str).filter(|w| !w.is_empty()) else {
        return Ok(24 * 3_600_000);
    };
    let (num, unit) = match w.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => w.split_at(i),
        None => (w, "s"),
    };
    let n: i64 = num.parse().map_err(|_| ApiError::field("window", format!("{w:?}: expected e.g. 24h, 7d, 90m")))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(ApiError::field("window", format!("{w:?}: unit must be s, m, h or d"))),
    };
    if n <= 0 {
        return Err(ApiError::field("window", "must be positive"));
    }
    // The counters reach back 30 days; a longer window counts what they
    // hold, so it is cut at a year rather than refused.
    Ok(n.saturating_mul(unit_ms).min(366 * 86_400_000))
}

async fn trending(State(s): State<Shared>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let k = k_param(&q, 8)?;
    let window = window_ms(&q)?;
    let engine = s.engine.clone();
    blocking(move || Ok(Json(json!({"window_ms": window, "picks": engine.trending(k, now_ms(), window)?})))).await
}

async fn user_recommendations(
    State(s): State<Shared>,
    Path(user): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let opts =
        UserOptions { k: k_param(&q, 8)?, anchor: param(&q, "article")?, now_ms: now_ms(), window_ms: window_ms(&q)? };
    let engine = s.engine.clone();
    blocking(move || {
        if let Some(a) = &opts.anchor
            && !engine.store().contains(a).map_err(ApiError::internal)?
        {
            return Err(ApiError::not_found(format!("`article`: no article with id {a:?}")));
        }
        let picks = engine.for_user(&user, &opts)?;
        let p = engine.store().profile(&user).map_err(ApiError::internal)?;
        let top = |m: &std::collections::BTreeMap<String, u32>, n| {
            readnext_core::Profile::top(m, n)
                .into_iter()
                .map(|(k, c)| json!({"key": k, "reads": c}))
                .collect::<Vec<_>>()
        };
        let taste = engine.store().taste(&user).map_err(ApiError::internal)?.is_some();
        let profile = json!({"reads": p.reads, "sections": top(&p.sections, 5), "subsections": top(&p.subsections, 5),
                             "entities": top(&p.entities, 10), "taste": taste});
        Ok(Json(json!({"user": user, "profile": profile, "picks": picks})))
    })
    .await
}

async fn forget_user(State(s): State<Shared>, Path(user): Path<String>) -> Result<Json<Value>, ApiError> {
    let out = submit(&s, vec![Write::Forget(user.clone())], Commit::Now).await?;
    let removed = match out.applied.first().copied().flatten() {
        Some(Applied::Forgotten(n)) => json!(n),
        Some(_) => json!(0),
        None => Value::Null,
    };
    Ok(Json(with_sequence(json!({"user": user, "events_removed": removed}), out.sequence)))
}

/// The rules as the API answers them.
/// The pins and blocks, with the story rules under `stories`.
fn rules_json(engine: &readnext_recommend::Engine) -> Result<Json<Value>, ApiError> {
    let rules: Rules = (*engine.rules()?).clone();
    let mut v = serde_json::to_value(rules).map_err(ApiError::internal)?;
    v["stories"] =
        serde_json::to_value(engine.store().story_rules().map_err(ApiError::internal)?).map_err(ApiError::internal)?;
    Ok(Json(v))
}

async fn get_rules(State(s): State<Shared>) -> Result<Json<Value>, ApiError> {
    let engine = s.engine.clone();
    blocking(move || rules_json(&engine)).await
}

/// Applies a rule write and answers the new rules.
async fn edit_rules(s: &Shared, w: Write) -> Result<Json<Value>, ApiError> {
    submit(s, vec![w], Commit::Now).await?;
    let engine = s.engine.clone();
    blocking(move || rules_json(&engine)).await
}

/// 404 unless `id` is a stored article.
async fn stored_article(s: &Shared, id: &str) -> Result<(), ApiError> {
    let engine = s.engine.clone();
    let i = id.to_string();
    if !blocking(move || engine.store().contains(&i).map_err(ApiError::internal)).await? {
        return Err(ApiError::not_found(format!("no article with id {id:?}")));
    }
    Ok(())
}

async fn split_story(State(s): State<Shared>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    stored_article(&s, &id).await?;
    edit_rules(&s, Write::SplitStory(id)).await
}

async fn unsplit_story(State(s): State<Shared>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    edit_rules(&s, Write::UnsplitStory(id)).await
}

/// `PUT /v1/rules/stories/merges/{from}` with `{"into": STORY}`.
async fn merge_stories(
    State(s): State<Shared>,
    Path(from): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Into {
        into: String,
    }
    let bytes = body(&s, b)?;
    let Into { into } = parse_json(&bytes)?;
    let engine = s.engine.clone();
    let (f, i) = (from.clone(), into.clone());
    let found = blocking(move || Ok((engine.story_exists(&f)?, engine.story_exists(&i)?))).await?;
    match found {
        (false, _) => Err(ApiError::not_found(format!("no story with id {from:?}"))),
        (_, false) => Err(ApiError::not_found(format!("`into`: no story with id {into:?}"))),
        // A story merged into itself: nothing to do (the store ignores it).
        _ => edit_rules(&s, Write::MergeStories { from, into }).await,
    }
}

async fn unmerge_story(State(s): State<Shared>, Path(from): Path<String>) -> Result<Json<Value>, ApiError> {
    edit_rules(&s, Write::UnmergeStory(from)).await
}

async fn put_pins(
    State(s): State<Shared>,
    Path(owner): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let bytes = body(&s, b)?;
    let pins: Vec<String> = parse_json(&bytes)?;
    stored_article(&s, &owner).await?;
    edit_rules(&s, Write::SetPins { owner, pins }).await
}

async fn block(State(s): State<Shared>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    edit_rules(&s, Write::Block(id)).await
}

async fn unblock(State(s): State<Shared>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    edit_rules(&s, Write::Unblock(id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_with_units() {
        let q = |w: &str| HashMap::from([("window".to_string(), w.to_string())]);
        assert_eq!(window_ms(&q("24h")).unwrap(), 86_400_000);
        assert_eq!(window_ms(&q("90")).unwrap(), 90_000);
        assert_eq!(window_ms(&q("7d")).unwrap(), 7 * 86_400_000);
        assert!(window_ms(&q("3w")).unwrap_err().message.contains("unit"));
        assert!(window_ms(&q("-1h")).is_err());
        assert_eq!(window_ms(&q("400d")).unwrap(), 366 * 86_400_000);
        assert_eq!(window_ms(&HashMap::new()).unwrap(), 86_400_000);
    }
}
