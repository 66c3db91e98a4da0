//! The OpenAPI 3 document of the API, served at `/v1/openapi.json`.

use serde_json::{Value, json};

fn op(summary: &str, scope: Option<&str>, params: &[(&str, &str, &str)], body: Option<&str>, ok: &str) -> Value {
    let mut o = json!({
        "summary": summary,
        "parameters": params.iter().map(|(name, place, desc)| json!({
            "name": name, "in": place, "required": *place == "path", "description": desc,
            "schema": {"type": if *name == "k" { "integer" } else { "string" }},
        })).collect::<Vec<_>>(),
        "responses": {
            ok: {"description": "Success"},
            "400": {"description": "Invalid request; the message names the field", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "404": {"description": "Unknown id", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "429": {"description": "Rate limited"},
        },
    });
    match scope {
        Some(s) => {
            o["security"] = json!([{"bearer": [s]}]);
            o["responses"]["401"] = json!({"description": "Missing or unknown API key"});
            o["responses"]["403"] = json!({"description": "The key lacks the scope"});
        }
        None => o["security"] = json!([]),
    }
    if let Some(schema) = body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        o["responses"]["413"] = json!({"description": "Body over the size limit"});
    }
    o
}

/// The document.
pub(crate) fn document() -> Value {
    let id = ("id", "path", "Article id");
    let k = ("k", "query", "Number of picks (1-100, default 8)");
    let filters = [
        id,
        k,
        ("lang", "query", "Only this language (ISO 639-1)"),
        ("since", "query", "Only articles published on or after this date"),
        ("section", "query", "Only this section"),
    ];
    json!({
        "openapi": "3.0.3",
        "info": {"title": "readnext", "version": env!("CARGO_PKG_VERSION"),
                 "description": "News recommendations: related articles, reader blocks, trending. Errors are {\"error\": {\"code\", \"message\"}}."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "API key; scopes read, write, admin"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Article": {"type": "object", "required": ["title"], "properties": {
                    "id": {"type": "string"}, "url": {"type": "string"}, "title": {"type": "string"},
                    "dek": {"type": "string"}, "body": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                    "published": {"oneOf": [{"type": "string"}, {"type": "integer"}]}, "lang": {"type": "string"},
                    "section": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
                    "authors": {"type": "array", "items": {"type": "string"}}, "image": {"type": "string"}}},
                "Articles": {"type": "array", "items": {"$ref": "#/components/schemas/Article"}},
                "Event": {"type": "object", "required": ["user", "article", "type"], "properties": {
                    "user": {"type": "string"}, "article": {"type": "string"},
                    "type": {"type": "string", "enum": ["impression", "click"]},
                    "time": {"description": "RFC 3339 or ms since the epoch (default now); at most 5 minutes ahead of the server's clock and at most 30 days behind it, or the event is rejected",
                        "oneOf": [{"type": "string"}, {"type": "integer"}]},
                    "position": {"type": "integer", "minimum": 0}, "slate": {"type": "array", "items": {"type": "string"}}}},
                "Events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                "Ids": {"type": "array", "items": {"type": "string"}},
            },
        },
        "paths": {
            "/v1/articles": {
                "post": op("Add or replace articles (per-item results)", Some("write"), &[], Some("Articles"), "200"),
                "get": op("Page through stored ids: {ids, next}", Some("read"),
                    &[("limit", "query", "Ids per page (default 1000)"), ("after", "query", "The `next` of the previous page")], None, "200"),
            },
            "/v1/articles/{id}": {
                "get": op("An article", Some("read"), &[id], None, "200"),
                "put": op("Add or replace an article. Answered once it is durable, with its vector (embedded before the answer) in dense retrieval; found by its words, and in the blocks it enters, within the next index commit (at most 200 ms later)", Some("write"), &[id], Some("Article"), "200"),
                "delete": op("Delete an article", Some("write"), &[id], None, "204"),
            },
            "/v1/articles/{id}/related": {"get": op("The related block (JSON)", None, &filters, None, "200")},
            "/v1/articles/{id}/related.html": {"get": op("The related block as an HTML fragment", None, &filters, None, "200")},
            "/v1/related": {"post": op("The related block of an unsaved article", Some("read"), &filters[1..], Some("Article"), "200")},
            "/v1/events": {"post": op("Record impressions and clicks", None, &[], Some("Events"), "202")},
            "/v1/users/{id}/recommendations": {"get": op("A reader's block", Some("read"),
                &[("id", "path", "Reader id"), k, ("article", "query", "The article being read"), ("window", "query", "Trending window, e.g. 24h")], None, "200")},
            "/v1/users/{id}": {"delete": op("Forget a reader (history and profile)", Some("admin"), &[("id", "path", "Reader id")], None, "200")},
            "/v1/trending": {"get": op("Most read articles", Some("read"), &[k, ("window", "query", "e.g. 24h, 7d (default 24h)")], None, "200")},
            "/v1/rules": {"get": op("Editorial rules", Some("read"), &[], None, "200")},
            "/v1/rules/pins/{owner}": {"put": op("Pin articles into a block (empty list: unpin)", Some("admin"), &[("owner", "path", "The block's article")], Some("Ids"), "200")},
            "/v1/rules/blocked/{id}": {
                "put": op("Block an article from every block", Some("admin"), &[id], None, "200"),
                "delete": op("Unblock an article", Some("admin"), &[id], None, "200"),
            },
            "/healthz": {"get": op("Liveness", None, &[], None, "200")},
            "/readyz": {"get": op("Readiness (store readable, index current); `warm` once every default block is computed", None, &[], None, "200")},
            "/metrics": {"get": op("Prometheus metrics", Some("read"), &[], None, "200")},
            "/widget.js": {"get": op("The embeddable widget", None, &[], None, "200")},
        },
    })
}
