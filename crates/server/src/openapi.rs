//! The OpenAPI 3 document of the API, served at `/v1/openapi.json`.
//!
//! The document is the contract publishers generate clients from, so it
//! states every rule the handlers enforce: a request it allows is
//! accepted, and a request it forbids is refused with a 4xx. `scripts/
//! api-contract.sh` checks both ways with schemathesis against a running
//! server, and `scripts/test.sh` runs it. When a handler gains a rule,
//! the schema here gains it too.

use serde_json::{Value, json};

use crate::api::{MAX_BATCH, MAX_ID_CHARS, MAX_K};

/// A JSON body or response of a named schema.
fn json_of(schema: &str) -> Value {
    json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}})
}

/// The error response of a status.
fn error(description: &str) -> Value {
    json!({"description": description, "content": json_of("Error")})
}

/// A parameter: `(name, in, description, schema)`.
type Param = (&'static str, &'static str, &'static str, Value);

/// One operation. `ok` is the success status with its content (`None`:
/// no body). The error statuses every operation can answer are added here.
fn op(summary: &str, scope: Option<&str>, params: &[Param], body: Option<&str>, ok: (&str, Option<Value>)) -> Value {
    let mut success = json!({"description": "Success"});
    if let Some(content) = ok.1 {
        success["content"] = content;
    }
    let mut o = json!({
        "summary": summary,
        "parameters": params.iter().map(|(name, place, desc, schema)| json!({
            "name": name, "in": place, "required": *place == "path", "description": desc, "schema": schema,
        })).collect::<Vec<_>>(),
        "responses": {
            ok.0: success,
            "429": error("Rate limited"),
        },
    });
    if !params.is_empty() || body.is_some() {
        o["responses"]["400"] = error("Invalid request; the message names the field");
    }
    if params.iter().any(|p| p.1 == "path") {
        o["responses"]["404"] = error("Unknown id");
    }
    match scope {
        Some(s) => {
            o["security"] = json!([{"bearer": [s]}]);
            o["responses"]["401"] = error("Missing or unknown API key");
            o["responses"]["403"] = error("The key lacks the scope");
        }
        None => o["security"] = json!([]),
    }
    if let Some(schema) = body {
        o["requestBody"] = json!({"required": true, "content": json_of(schema)});
        o["responses"]["413"] = error("Body over the size limit");
    }
    o
}

/// `o` with one more answer: `status`, with a body of the named schema.
fn answering(mut o: Value, status: &str, description: &str, schema: &str) -> Value {
    o["responses"][status] = json!({"description": description, "content": json_of(schema)});
    o
}

/// An id in an event: something besides white space, at most
/// [`MAX_ID_CHARS`] characters.
fn ident_text() -> Value {
    json!({"type": "string", "pattern": "\\S", "maxLength": MAX_ID_CHARS})
}

/// A signed 64-bit integer.
fn int64() -> Value {
    json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX})
}

fn components() -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let nullable_string = json!({"type": "string", "nullable": true});
    // The fields of an article but its id: PUT takes the id from the path.
    // Every field but the headline and the lists may be null, which means
    // absent; a field the server does not know is refused.
    let mut fields = json!({
        "url": nullable_string,
        "title": {"type": "string", "pattern": "\\S", "description": "The headline; required, not only white space"},
        "dek": nullable_string,
        "body": {"description": "One text (paragraphs split at blank lines) or the paragraphs", "nullable": true,
                 "anyOf": [{"type": "string"}, strings]},
        "published": {"description": "RFC 3339 (or YYYY-MM-DD), or seconds since the epoch; null or blank: unknown",
                      "nullable": true,
                      "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"},
                                {"type": "string", "pattern": "^\\s*$"}, int64()]},
        "lang": {"type": "string", "nullable": true, "description": "ISO 639-1; detected when absent"},
        "section": nullable_string,
        "tags": strings,
        "authors": strings,
        "image": nullable_string,
        "labels": {"type": "array", "items": {"type": "string"}, "description": "Evaluation labels (readnext eval); not stored"},
        "event": {"type": "string", "nullable": true, "description": "Evaluation event id (readnext eval); not stored"},
    });
    let article_body = json!({"type": "object", "required": ["title"], "properties": fields.clone(), "additionalProperties": false,
        "description": "An article without its id; an `id` in the body must equal the one in the path"});
    fields["id"] = json!({"description": "The publisher's id; without one, the URL or the content names the article",
                          "nullable": true, "anyOf": [{"type": "string"}, int64()]});
    let article = json!({"type": "object", "required": ["title"], "properties": fields, "additionalProperties": false});
    let articles = json!({"type": "array", "maxItems": MAX_BATCH, "items": {"$ref": "#/components/schemas/Article"}});
    let ident = json!({"anyOf": [ident_text(), {"type": "number"}]});
    let event = json!({"type": "object", "required": ["user", "article", "type"], "properties": {
        "user": ident, "article": ident,
        "type": {"type": "string", "enum": ["impression", "click"]},
        "time": {"description": "RFC 3339 or ms since the epoch (default, or null: now). An event more than 5 minutes ahead of the server's clock, or more than 30 days behind it, is not counted: it is answered in `rejected` with the code `out_of_window`",
                 "nullable": true, "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}, int64()]},
        "position": {"type": "integer", "minimum": 0, "maximum": u32::MAX, "nullable": true},
        "slate": {"type": "array", "items": {"type": "string"}, "nullable": true}}});
    let events = json!({"type": "array", "maxItems": MAX_BATCH, "items": {"$ref": "#/components/schemas/Event"}});
    let item_error = json!({"type": "object", "required": ["index", "error"], "properties": {
        "index": {"type": "integer"}, "error": {"$ref": "#/components/schemas/ErrorBody"}}});
    let pick = json!({"type": "object", "required": ["id", "title", "url", "published", "score", "why"], "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "url": nullable_string,
        "published": {"type": "string", "nullable": true, "description": "YYYY-MM-DD"},
        "image": {"type": "string"}, "score": {"type": "number"},
        "why": {"type": "object", "required": ["summary", "entities", "keyphrases", "signals"], "properties": {
            "summary": {"type": "string"}, "entities": strings, "keyphrases": strings,
            "story": {"type": "string", "description": "The story id, when the pick is from the query's story"},
            "signals": {"type": "array", "items": {"type": "object", "required": ["name", "value"], "properties": {
                "name": {"type": "string"}, "value": {"type": "number"}}}}}}}});
    let picks = json!({"type": "array", "items": {"$ref": "#/components/schemas/Pick"}});
    let story_entry = json!({"type": "object", "required": ["id", "title", "url", "published", "source", "lang", "copies"], "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "url": nullable_string,
        "published": {"type": "string", "nullable": true, "description": "YYYY-MM-DD"},
        "source": nullable_string, "lang": {"type": "string"},
        "copies": {"type": "array", "items": {"type": "string"}, "description": "Ids of near-duplicate copies collapsed into this entry"}}});
    let story = json!({"type": "object",
        "required": ["id", "title", "entities", "keyphrases", "first", "last", "articles", "sources", "languages", "trending", "timeline"],
        "properties": {
            "id": {"type": "string", "description": "Stable: the id of the story's first article"},
            "title": {"type": "string", "description": "The most representative headline"},
            "entities": strings, "keyphrases": strings,
            "first": {"type": "string", "nullable": true, "description": "YYYY-MM-DD"},
            "last": {"type": "string", "nullable": true, "description": "YYYY-MM-DD"},
            "articles": {"type": "integer", "description": "Articles, copies included"},
            "sources": strings, "languages": strings,
            "trending": {"type": "number", "description": "Decayed reads in the trending window"},
            "timeline": {"type": "array", "items": {"$ref": "#/components/schemas/StoryEntry"}}}});
    let counts = json!({"type": "array", "items": {"type": "object", "required": ["key", "reads"], "properties": {
        "key": {"type": "string"}, "reads": {"type": "integer"}}}});
    // The answer of `/v1/cluster` (its own value: one json! of every
    // schema would pass the macro's recursion limit).
    let node = json!({"type": "object", "required": ["mode", "digest"], "properties": {
                "mode": {"type": "string", "enum": ["single", "cluster"]},
                "node": {"type": "string"}, "stream": {"type": "string"},
                "applied": {"type": "integer"}, "last": {"type": "integer"},
                "lag": {"type": "object", "properties": {"messages": {"type": "integer"}, "seconds": {"type": "number"}}},
                "stuck": {"type": "string", "nullable": true},
                "digest": {"type": "object", "required": ["applied", "articles", "vectors", "events", "profiles",
                    "articles_digest", "events_digest", "profiles_digest", "rules_digest"], "properties": {
                    "applied": {"type": "integer"}, "articles": {"type": "integer"}, "vectors": {"type": "integer"},
                    "events": {"type": "integer"}, "profiles": {"type": "integer"},
                    "articles_digest": {"type": "string"}, "events_digest": {"type": "string"},
                    "profiles_digest": {"type": "string"}, "rules_digest": {"type": "string"}}}}});
    json!({
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "API key; scopes read, write, admin"}},
        "schemas": {
            "ErrorBody": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}}},
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"$ref": "#/components/schemas/ErrorBody"}}},
            "Article": article,
            "ArticleBody": article_body,
            "StoredArticle": {"type": "object", "required": ["id", "title", "body", "lang", "tags", "authors"], "properties": {
                "id": {"type": "string"}, "url": nullable_string, "title": {"type": "string"}, "dek": nullable_string,
                "body": strings, "published": {"type": "string", "nullable": true, "description": "RFC 3339"},
                "lang": {"type": "string"}, "section": nullable_string, "tags": strings, "authors": strings,
                "image": nullable_string}},
            "Articles": {"anyOf": [articles.clone(), {"type": "object", "required": ["articles"], "properties": {"articles": articles}}]},
            "ArticleWritten": {"type": "object", "required": ["id", "status"], "properties": {
                "id": {"type": "string"}, "status": {"type": "string", "enum": ["inserted", "updated", "unchanged", "accepted"],
                    "description": "`accepted` (with 202): cluster mode, in the log but not yet applied by this node"},
                "sequence": {"type": "integer", "description": "Cluster mode: the write log's sequence of the (last) write"}}},
            "BatchResult": {"type": "object", "required": ["stored", "failed", "results"], "properties": {
                "stored": {"type": "integer"}, "failed": {"type": "integer"}, "sequence": {"type": "integer", "description": "Cluster mode: the write log's sequence of the (last) write"},
                "results": {"type": "array", "items": {"type": "object", "required": ["index"], "properties": {
                    "index": {"type": "integer"}, "id": {"type": "string"},
                    "status": {"type": "string", "enum": ["inserted", "updated", "unchanged", "accepted"]},
                    "error": {"$ref": "#/components/schemas/ErrorBody"}}}}}},
            "Event": event,
            "Events": {"anyOf": [{"$ref": "#/components/schemas/Event"}, events.clone(),
                                 {"type": "object", "required": ["events"], "properties": {"events": events}}]},
            "EventsResult": {"type": "object", "required": ["accepted", "rejected"], "properties": {
                "accepted": {"type": "integer"}, "rejected": {"type": "array", "items": item_error}, "sequence": {"type": "integer", "description": "Cluster mode: the write log's sequence of the (last) write"}}},
            "Ids": {"type": "array", "items": {"type": "string"}},
            "IdPage": {"type": "object", "required": ["ids", "next"], "properties": {
                "ids": strings, "next": {"type": "string", "nullable": true}}},
            "Pick": pick,
            "Block": {"type": "object", "required": ["query", "picks"], "properties": {
                "query": {"type": "object", "required": ["id", "title"], "properties": {
                    "id": {"type": "string", "nullable": true}, "title": {"type": "string"}}},
                "picks": picks.clone(),
                "story": {"$ref": "#/components/schemas/Story"}}},
            "Story": story,
            "StoryEntry": story_entry,
            "Stories": {"type": "object", "required": ["order", "stories"], "properties": {
                "order": {"type": "string", "enum": ["recent", "trending"]},
                "stories": {"type": "array", "items": {"$ref": "#/components/schemas/Story"}}}},
            "Trending": {"type": "object", "required": ["window_ms", "picks"], "properties": {
                "window_ms": {"type": "integer"}, "picks": picks.clone()}},
            "ReaderBlock": {"type": "object", "required": ["user", "profile", "picks"], "properties": {
                "user": {"type": "string"},
                "profile": {"type": "object", "required": ["reads", "sections", "subsections", "entities", "taste"], "properties": {
                    "reads": {"type": "integer"}, "sections": counts, "subsections": counts, "entities": counts,
                    "taste": {"type": "boolean"}}},
                "picks": picks}},
            "Forgotten": {"type": "object", "required": ["user", "events_removed"], "properties": {
                "user": {"type": "string"},
                "events_removed": {"type": "integer", "nullable": true, "description": "null: cluster mode, not yet applied by this node"},
                "sequence": {"type": "integer", "description": "Cluster mode: the write log's sequence of the (last) write"}}},
            "Rules": {"type": "object", "required": ["pins", "blocked", "stories"], "properties": {
                "pins": {"type": "object", "additionalProperties": strings}, "blocked": strings,
                "stories": {"type": "object", "required": ["splits", "merges"], "properties": {
                    "splits": strings,
                    "merges": {"type": "object", "additionalProperties": {"type": "string"},
                               "description": "Story merged away → the story it joins"}}}}},
            "MergeInto": {"type": "object", "required": ["into"], "additionalProperties": false, "properties": {
                "into": {"type": "string", "description": "The story to show this one as part of"}}},
            "Ready": {"type": "object", "required": ["ready", "articles"], "properties": {
                "ready": {"type": "boolean"}, "articles": {"type": "integer"}, "warm": {"type": "boolean"},
                "index_lag": {"type": "integer"},
                "cluster_lag": {"type": "integer", "description": "Cluster mode: writes in the log this node has not applied"},
                "stuck": {"type": "string", "description": "Cluster mode: why this node stopped applying the log"}}},
            "Node": node,
        },
    })
}

/// The document.
pub(crate) fn document() -> Value {
    let id: Param = ("id", "path", "Article id", json!({"type": "string"}));
    let k: Param =
        ("k", "query", "Number of picks", json!({"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 8}));
    let window: Param = (
        "window",
        "query",
        "Trending window: a number with the unit s, m, h or d (seconds without one), e.g. 24h; windows past a year count a year. Empty: the default",
        json!({"type": "string", "pattern": "^(0*[1-9][0-9]{0,9}[smhd]?)?$", "default": "24h"}),
    );
    let filters = [
        id.clone(),
        k.clone(),
        ("lang", "query", "Only this language (ISO 639-1)", json!({"type": "string"})),
        (
            "since",
            "query",
            "Only articles published on or after this date (YYYY-MM-DD or RFC 3339); empty: no bound",
            json!({"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"},
                             {"type": "string", "maxLength": 0}]}),
        ),
        ("section", "query", "Only this section", json!({"type": "string"})),
        (
            "story",
            "query",
            "Answer the story so far (`story`) and related background from outside it (`picks`)",
            json!({"type": "boolean", "default": false}),
        ),
    ];
    let since: Param = filters[3].clone();
    let story_id: Param = ("id", "path", "Story id (its first article's id)", json!({"type": "string"}));
    let html = json!({"text/html": {"schema": {"type": "string"}}});
    let text_plain = json!({"text/plain": {"schema": {"type": "string"}}});
    let post_articles = answering(
        op(
            "Add or replace articles. Each item is checked alone and the valid ones are stored; the answer is 200 when every item was stored, and 422, with the same body, when one or more failed",
            Some("write"),
            &[],
            Some("Articles"),
            ("200", Some(json_of("BatchResult"))),
        ),
        "422",
        "One or more items failed (see `results`); the others were stored",
        "BatchResult",
    );
    let post_events = answering(
        op(
            "Record impressions and clicks. Valid events are recorded; the answer is 202 when every event was valid (events dated outside the counters' window are listed in `rejected`, not counted), and 422, with the same body, when one or more events were invalid",
            None,
            &[],
            Some("Events"),
            ("202", Some(json_of("EventsResult"))),
        ),
        "422",
        "One or more events were invalid (see `rejected`); the others were recorded",
        "EventsResult",
    );
    let put_article = answering(
        op(
            "Add or replace an article. Answered once it is durable, with its vector (embedded before the answer) in dense retrieval; found by its words, and in the blocks it enters, within the next index commit (at most 200 ms later)",
            Some("write"),
            std::slice::from_ref(&id),
            Some("ArticleBody"),
            ("200", Some(json_of("ArticleWritten"))),
        ),
        "201",
        "Inserted",
        "ArticleWritten",
    );
    let readyz = answering(
        op(
            "Readiness (store readable, index current); `warm` once every default block is computed",
            None,
            &[],
            None,
            ("200", Some(json_of("Ready"))),
        ),
        "503",
        "Not ready: the index lags the store, or (cluster mode) the node lags the write log",
        "Ready",
    );
    json!({
        "openapi": "3.0.3",
        "info": {"title": "readnext", "version": env!("CARGO_PKG_VERSION"),
                 "description": "News recommendations: related articles, reader blocks, trending. Errors are {\"error\": {\"code\", \"message\"}}."},
        "components": components(),
        "paths": {
            "/v1/articles": {
                "post": post_articles,
                "get": op("Page through stored ids", Some("read"), &[
                    ("limit", "query", "Ids per page", json!({"type": "integer", "minimum": 1, "maximum": MAX_BATCH, "default": 1000})),
                    ("after", "query", "The `next` of the previous page", json!({"type": "string"})),
                ], None, ("200", Some(json_of("IdPage")))),
            },
            "/v1/articles/{id}": {
                "get": op("An article", Some("read"), std::slice::from_ref(&id), None, ("200", Some(json_of("StoredArticle")))),
                "put": put_article,
                "delete": op("Delete an article", Some("write"), std::slice::from_ref(&id), None, ("204", None)),
            },
            "/v1/articles/{id}/related": {"get": op("The related block (JSON)", None, &filters, None, ("200", Some(json_of("Block"))))},
            "/v1/articles/{id}/related.html": {"get": op("The related block as an HTML fragment", None, &filters, None, ("200", Some(html.clone())))},
            "/v1/articles/{id}/story": {"get": op("The story of an article: its timeline, copies collapsed", None,
                std::slice::from_ref(&id), None, ("200", Some(json_of("Story"))))},
            "/v1/articles/{id}/story.html": {"get": op("The story of an article as an HTML fragment (story.html)", None,
                std::slice::from_ref(&id), None, ("200", Some(html.clone())))},
            "/v1/stories": {"get": op("Recent or trending stories (trending: by the clicks of their articles)", Some("read"), &[
                ("k", "query", "Number of stories", json!({"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10})),
                since,
                ("order", "query", "recent: newest article first; trending: most read in the window first; empty: recent", json!({"type": "string", "enum": ["", "recent", "trending"], "default": "recent"})),
                ("timeline", "query", "Timeline entries per story, the newest (0: all)", json!({"type": "integer", "minimum": 0, "maximum": MAX_K, "default": 3})),
                window.clone(),
            ], None, ("200", Some(json_of("Stories"))))},
            "/v1/stories/{id}": {"get": op("A story with its whole timeline", Some("read"), std::slice::from_ref(&story_id), None,
                ("200", Some(json_of("Story"))))},
            "/v1/stories/{id}/story.html": {"get": op("A story as an HTML fragment (story.html)", Some("read"),
                std::slice::from_ref(&story_id), None, ("200", Some(html.clone())))},
            "/v1/related": {"post": op("The related block of an unsaved article", Some("read"), &filters[1..], Some("Article"), ("200", Some(json_of("Block"))))},
            "/v1/events": {"post": post_events},
            "/v1/users/{id}/recommendations": {"get": op("A reader's block", Some("read"), &[
                ("id", "path", "Reader id", json!({"type": "string"})),
                k.clone(),
                ("article", "query", "The article being read (404 when it is not stored)", json!({"type": "string"})),
                window.clone(),
            ], None, ("200", Some(json_of("ReaderBlock"))))},
            "/v1/users/{id}": {"delete": op("Forget a reader (history and profile)", Some("admin"),
                &[("id", "path", "Reader id", json!({"type": "string"}))], None, ("200", Some(json_of("Forgotten"))))},
            "/v1/trending": {"get": op("Most read articles", Some("read"), &[k, window], None, ("200", Some(json_of("Trending"))))},
            "/v1/rules": {"get": op("Editorial rules", Some("read"), &[], None, ("200", Some(json_of("Rules"))))},
            "/v1/rules/pins/{owner}": {"put": op("Pin articles into a block (empty list: unpin)", Some("admin"),
                &[("owner", "path", "The block's article", json!({"type": "string"}))], Some("Ids"), ("200", Some(json_of("Rules"))))},
            "/v1/rules/blocked/{id}": {
                "put": op("Block an article from every block", Some("admin"), std::slice::from_ref(&id), None, ("200", Some(json_of("Rules")))),
                "delete": op("Unblock an article", Some("admin"), std::slice::from_ref(&id), None, ("200", Some(json_of("Rules")))),
            },
            "/v1/rules/stories/split/{id}": {
                "put": op("Split an article off its story (it starts a story of its own)", Some("admin"), std::slice::from_ref(&id), None, ("200", Some(json_of("Rules")))),
                "delete": op("Undo a split", Some("admin"), std::slice::from_ref(&id), None, ("200", Some(json_of("Rules")))),
            },
            "/v1/rules/stories/merges/{from}": {
                "put": op("Show a story as part of another (404 when either story is unknown; into itself changes nothing)", Some("admin"),
                    &[("from", "path", "The story merged away", json!({"type": "string"}))], Some("MergeInto"), ("200", Some(json_of("Rules")))),
                "delete": op("Undo a merge", Some("admin"),
                    &[("from", "path", "The story merged away", json!({"type": "string"}))], None, ("200", Some(json_of("Rules")))),
            },
            "/healthz": {"get": op("Liveness", None, &[], None, ("200", Some(text_plain.clone())))},
            "/readyz": {"get": readyz},
            "/v1/cluster": {"get": op("This node: its mode, its place in the write log and a digest of its store (nodes that applied the same log agree)",
                Some("read"), &[], None, ("200", Some(json_of("Node"))))},
            "/metrics": {"get": op("Prometheus metrics", Some("read"), &[], None, ("200", Some(text_plain)))},
            "/widget.js": {"get": op("The embeddable widget", None, &[], None,
                ("200", Some(json!({"application/javascript": {"schema": {"type": "string"}}}))))},
        },
    })
}
