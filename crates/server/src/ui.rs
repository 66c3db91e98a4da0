//! The editor page: search articles, inspect any article's block with its
//! scores and reasons, pin and block, list stories and their timelines,
//! split an article off a story or merge two, and read the latest
//! evaluation report.
//! Server-rendered HTML; every piece of article text goes through `escape`.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use readnext_core::{Article, format_date};
use readnext_recommend::RelatedOptions;
use readnext_render::escape;
use readnext_store::Write;

use crate::auth::UI_COOKIE;
use crate::error::ApiError;
use crate::{Shared, blocking, typed};
use readnext_recommend::now_ms;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/ui", get(home))
        .route("/ui/articles/{id}", get(article))
        .route("/ui/stories", get(stories))
        .route("/ui/stories/{id}", get(story))
        .route("/ui/rules", axum::routing::post(rules))
        .route("/ui/report", get(report))
        .route("/ui/login", get(login_form).post(login))
}

fn page(title: &str, body: &str) -> Response {
    typed(
        "text/html; charset=utf-8",
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · readnext</title>\
             <style>body{{font:15px/1.45 system-ui,sans-serif;max-width:72rem;margin:1.5rem auto;padding:0 1rem}}\
             table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.35rem;text-align:left;vertical-align:top}}\
             .why{{color:#555}}.sig{{font:12px monospace;color:#777}}form.inline{{display:inline}}nav a{{margin-right:1rem}}</style>\
             </head><body><nav><a href=\"/ui\">Articles</a><a href=\"/ui/stories\">Stories</a><a href=\"/ui/report\">Evaluation report</a></nav><h1>{}</h1>{}</body></html>",
            escape(title),
            escape(title),
            body
        ),
    )
}

/// An article's link with a one-button form that posts `action` on it.
fn undoable(id: &str, action: &str, button: &str) -> String {
    format!(
        "<a href=\"/ui/articles/{}\">{1}</a> <form class=\"inline\" method=\"post\" action=\"/ui/rules\">\
         <input type=\"hidden\" name=\"action\" value=\"{action}\"><input type=\"hidden\" name=\"id\" value=\"{1}\">\
         <button>{button}</button></form> ",
        url_part(id),
        escape(id)
    )
}

fn url_part(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn home(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let text = q.get("q").map(|t| t.trim().to_string()).unwrap_or_default();
    let engine = s.engine.clone();
    let t = text.clone();
    let (hits, rules, count) = blocking(move || {
        let mut hits = Vec::new();
        if !t.is_empty() {
            if let Some(r) = engine.store().get(&t).map_err(ApiError::internal)? {
                hits.push((
                    r.article.id.clone(),
                    r.article.title.clone(),
                    r.article.published.map(format_date),
                    1.0f32,
                ));
            }
            let mut a = Article { id: String::new(), title: t.clone(), body: vec![t.clone()], ..Default::default() };
            // A few words are too short to tell their language: search
            // them as English unless they clearly are Spanish.
            let lang = readnext_analysis::detect_lang(&t);
            a.lang = Some(if lang == "es" { lang } else { "en".into() });
            if let Ok(query) = engine.query_for_article(&a, false) {
                let opts = RelatedOptions { k: 25, mmr_lambda: 1.0, recency_weight: 0.0, ..Default::default() };
                for p in engine.related(&query, &opts)? {
                    hits.push((p.id, p.title, p.published, p.score));
                }
            }
        }
        Ok((hits, engine.rules()?, engine.store().len().map_err(ApiError::internal)?))
    })
    .await?;
    let mut b = format!(
        "<form method=\"get\" action=\"/ui\"><input name=\"q\" size=\"60\" value=\"{}\" placeholder=\"Words, names or an article id\" autofocus> \
         <button>Search</button></form><p>{count} articles stored.</p>",
        escape(&text)
    );
    if !text.is_empty() {
        b.push_str("<table><tr><th>Article</th><th>Published</th><th>Match</th></tr>");
        for (id, title, published, score) in &hits {
            b.push_str(&format!(
                "<tr><td><a href=\"/ui/articles/{}\">{}</a></td><td>{}</td><td>{score:.3}</td></tr>",
                url_part(id),
                escape(title),
                escape(published.as_deref().unwrap_or(""))
            ));
        }
        b.push_str("</table>");
        if hits.is_empty() {
            b.push_str("<p>No match.</p>");
        }
    }
    b.push_str("<h2>Rules</h2><p>Blocked everywhere: ");
    if rules.blocked.is_empty() {
        b.push_str("none");
    }
    for id in &rules.blocked {
        b.push_str(&undoable(id, "unblock", "unblock"));
    }
    b.push_str("</p><p>Blocks with pins: ");
    if rules.pins.is_empty() {
        b.push_str("none");
    }
    for owner in rules.pins.keys() {
        b.push_str(&format!("<a href=\"/ui/articles/{}\">{}</a> ", url_part(owner), escape(owner)));
    }
    b.push_str("</p>");
    Ok(page("Editor", &b))
}

async fn article(State(s): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let engine = s.engine.clone();
    let (rec, picks, rules) = blocking(move || {
        let Some(rec) = engine.store().get(&id).map_err(ApiError::internal)? else {
            return Err(ApiError::not_found(format!("no article with id {id:?}")));
        };
        let query = engine.query_for_id(&id)?;
        let picks = engine.related(&query, &RelatedOptions::default())?;
        Ok((rec, picks, engine.rules()?))
    })
    .await?;
    let a = &rec.article;
    let id = &a.id;
    let mut b = format!(
        "<p><code>{}</code> · {} · {} · entities: {}</p>",
        escape(id),
        a.published.map(format_date).unwrap_or_else(|| "undated".into()),
        escape(&rec.analysis.lang),
        escape(&rec.analysis.entities.iter().take(8).map(|e| e.name.as_str()).collect::<Vec<_>>().join(", "))
    );
    if rules.blocked.contains(id) {
        b.push_str("<p><strong>This article is blocked from every block.</strong></p>");
    }
    b.push_str("<h2>Its block</h2><table><tr><th>#</th><th>Pick</th><th>Score</th><th>Why</th><th></th></tr>");
    for (i, p) in picks.iter().enumerate() {
        let signals: Vec<String> = p.why.signals.iter().map(|s| format!("{}={:.3}", s.name, s.value)).collect();
        b.push_str(&format!(
            "<tr><td>{}</td><td><a href=\"/ui/articles/{}\">{}</a><br><small>{}</small></td><td>{:.3}</td>\
             <td><span class=\"why\">{}</span><br><span class=\"sig\">{}</span></td><td>\
             <form class=\"inline\" method=\"post\" action=\"/ui/rules\"><input type=\"hidden\" name=\"action\" value=\"block\">\
             <input type=\"hidden\" name=\"owner\" value=\"{}\"><input type=\"hidden\" name=\"id\" value=\"{}\">\
             <button title=\"Never recommend this article anywhere\">block</button></form></td></tr>",
            i + 1,
            url_part(&p.id),
            escape(&p.title),
            escape(p.published.as_deref().unwrap_or("")),
            p.score,
            escape(&p.why.summary),
            escape(&signals.join(" ")),
            escape(id),
            escape(&p.id)
        ));
    }
    b.push_str("</table>");
    let pins = rules.pins_of(id);
    b.push_str("<h2>Pinned into this block</h2><ul>");
    for p in pins {
        b.push_str(&format!(
            "<li><a href=\"/ui/articles/{}\">{}</a> <form class=\"inline\" method=\"post\" action=\"/ui/rules\">\
             <input type=\"hidden\" name=\"action\" value=\"unpin\"><input type=\"hidden\" name=\"owner\" value=\"{}\">\
             <input type=\"hidden\" name=\"id\" value=\"{}\"><button>unpin</button></form></li>",
            url_part(p),
            escape(p),
            escape(id),
            escape(p)
        ));
    }
    b.push_str(&format!(
        "</ul><form method=\"post\" action=\"/ui/rules\"><input type=\"hidden\" name=\"action\" value=\"pin\">\
         <input type=\"hidden\" name=\"owner\" value=\"{}\"><input name=\"id\" placeholder=\"Article id to pin\" size=\"40\"> \
         <button>Pin</button></form>",
        escape(id)
    ));
    if !rules.blocked.contains(id) {
        b.push_str(&format!(
            "<form method=\"post\" action=\"/ui/rules\"><input type=\"hidden\" name=\"action\" value=\"block\">\
             <input type=\"hidden\" name=\"owner\" value=\"{0}\"><input type=\"hidden\" name=\"id\" value=\"{0}\">\
             <button>Block this article from every block</button></form>",
            escape(id)
        ));
    }
    Ok(page(&a.title, &b))
}

async fn stories(State(s): State<Shared>) -> Result<Response, ApiError> {
    let engine = s.engine.clone();
    let (list, rules) = blocking(move || {
        let q = readnext_recommend::StoryQuery {
            since: None,
            k: 50,
            order: readnext_recommend::StoryOrder::Recent,
            timeline: 1,
            now_ms: now_ms(),
            window_ms: 24 * 3_600_000,
        };
        Ok((engine.stories(&q)?, engine.store().story_rules().map_err(ApiError::internal)?))
    })
    .await?;
    let mut b = String::from(
        "<p>The 50 stories with the newest articles.</p><table><tr><th>Story</th><th>Articles</th><th>From</th><th>To</th><th>About</th></tr>",
    );
    for st in &list {
        b.push_str(&format!(
            "<tr><td><a href=\"/ui/stories/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"why\">{}</td></tr>",
            url_part(&st.id),
            escape(&st.title),
            st.articles,
            escape(st.first.as_deref().unwrap_or("")),
            escape(st.last.as_deref().unwrap_or("")),
            escape(&st.entities.join(", "))
        ));
    }
    b.push_str("</table><h2>Story rules</h2><p>Split off: ");
    if rules.splits.is_empty() {
        b.push_str("none");
    }
    for id in &rules.splits {
        b.push_str(&undoable(id, "unsplit", "undo"));
    }
    b.push_str("</p><p>Merged: ");
    if rules.merges.is_empty() {
        b.push_str("none");
    }
    for (from, into) in &rules.merges {
        b.push_str(&format!(
            "{} into <a href=\"/ui/stories/{}\">{}</a> <form class=\"inline\" method=\"post\" action=\"/ui/rules\">\
             <input type=\"hidden\" name=\"action\" value=\"unmerge\"><input type=\"hidden\" name=\"id\" value=\"{}\">\
             <button>undo</button></form> ",
            escape(from),
            url_part(into),
            escape(into),
            escape(from)
        ));
    }
    b.push_str("</p>");
    Ok(page("Stories", &b))
}

async fn story(State(s): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let engine = s.engine.clone();
    let i = id.clone();
    let Some(st) = blocking(move || Ok(engine.story(&i, now_ms())?)).await? else {
        return Err(ApiError::not_found(format!("no story with id {id:?}")));
    };
    let mut b = format!(
        "<p>{} articles, {} to {}, from {}.</p><p class=\"why\">About {}. Keyphrases: {}.</p>\
         <table><tr><th>Published</th><th>Article</th><th>Copies</th><th></th></tr>",
        st.articles,
        escape(st.first.as_deref().unwrap_or("?")),
        escape(st.last.as_deref().unwrap_or("?")),
        escape(&st.sources.join(", ")),
        escape(&st.entities.join(", ")),
        escape(&st.keyphrases.join(", "))
    );
    for e in &st.timeline {
        b.push_str(&format!(
            "<tr><td>{}</td><td><a href=\"/ui/articles/{}\">{}</a></td><td>{}</td><td>\
             <form class=\"inline\" method=\"post\" action=\"/ui/rules\"><input type=\"hidden\" name=\"action\" value=\"split\">\
             <input type=\"hidden\" name=\"id\" value=\"{}\"><button>split off</button></form></td></tr>",
            escape(e.published.as_deref().unwrap_or("")),
            url_part(&e.id),
            escape(&e.title),
            e.copies.len(),
            escape(&e.id)
        ));
    }
    b.push_str(&format!(
        "</table><form method=\"post\" action=\"/ui/rules\"><input type=\"hidden\" name=\"action\" value=\"merge\">\
         <input type=\"hidden\" name=\"id\" value=\"{}\">Merge this story into story <input name=\"into\" size=\"24\" placeholder=\"story id\"> \
         <button>merge</button></form>",
        escape(&st.id)
    ));
    Ok(page(&st.title, &b))
}

async fn rules(State(s): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Result<Response, ApiError> {
    let action = f.get("action").cloned().unwrap_or_default();
    let id = f.get("id").map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let Some(id) = id else { return Err(ApiError::field("id", "is required")) };
    let owner = f.get("owner").map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let into = f.get("into").map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let back = match action.as_str() {
        "split" | "unsplit" => format!("/ui/stories/{}", url_part(&id)),
        "merge" => format!("/ui/stories/{}", url_part(into.as_deref().unwrap_or(&id))),
        "unmerge" => "/ui/stories".to_string(),
        _ => format!("/ui/articles/{}", url_part(owner.as_deref().unwrap_or(&id))),
    };
    let engine = s.engine.clone();
    let write = blocking(move || {
        Ok(match (action.as_str(), owner) {
            ("pin", Some(owner)) => {
                if !engine.store().contains(&id).map_err(ApiError::internal)? {
                    return Err(ApiError::field("id", format!("no article with id {id:?}")));
                }
                let mut pins = engine.rules()?.pins_of(&owner).to_vec();
                if !pins.contains(&id) {
                    pins.push(id);
                }
                Write::SetPins { owner, pins }
            }
            ("unpin", Some(owner)) => {
                let mut pins = engine.rules()?.pins_of(&owner).to_vec();
                pins.retain(|x| x != &id);
                Write::SetPins { owner, pins }
            }
            ("block", _) => Write::Block(id),
            ("unblock", _) => Write::Unblock(id),
            ("split", _) => {
                if !engine.store().contains(&id).map_err(ApiError::internal)? {
                    return Err(ApiError::field("id", format!("no article with id {id:?}")));
                }
                Write::SplitStory(id)
            }
            ("unsplit", _) => Write::UnsplitStory(id),
            ("merge", _) => {
                let Some(into) = into else { return Err(ApiError::field("into", "is required")) };
                if into == id || !engine.story_exists(&into)? {
                    return Err(ApiError::field("into", format!("no other story with id {into:?}")));
                }
                Write::MergeStories { from: id, into }
            }
            ("unmerge", _) => Write::UnmergeStory(id),
            (other, _) => {
                return Err(ApiError::field(
                    "action",
                    format!("{other:?}: expected pin, unpin, block, unblock, split, unsplit, merge or unmerge"),
                ));
            }
        })
    })
    .await?;
    crate::writes::submit(&s, vec![write], crate::writes::Commit::Now).await?;
    Ok(Redirect::to(&back).into_response())
}

/// The newest report page (`index.html`, as `eval --report DIR` writes it)
/// in the reports folder or one level below it.
const REPORT_PAGE: &str = "index.html";

fn latest_report(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let mut best: Option<(std::time::SystemTime, std::path::PathBuf)> = None;
    let mut consider = |p: std::path::PathBuf| {
        if let Ok(t) = std::fs::metadata(&p).and_then(|m| m.modified())
            && best.as_ref().is_none_or(|(bt, _)| t > *bt)
        {
            best = Some((t, p));
        }
    };
    consider(dir.join(REPORT_PAGE));
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        consider(e.path().join(REPORT_PAGE));
    }
    best.map(|(_, p)| p)
}

async fn report(State(s): State<Shared>) -> Response {
    let Some(dir) = s.config.reports.clone() else {
        return page(
            "Evaluation report",
            "<p>No reports folder is configured: start the server with <code>--reports DIR</code> and write reports \
             there with <code>readnext eval related --dataset ... --report DIR/NAME</code>.</p>",
        );
    };
    match latest_report(&dir).and_then(|p| std::fs::read_to_string(p).ok()) {
        // The report is our own self-contained HTML (article text in it is escaped when written).
        Some(html) => typed("text/html; charset=utf-8", html),
        None => page(
            "Evaluation report",
            &format!("<p>No report.html under {} yet.</p>", escape(&dir.display().to_string())),
        ),
    }
}

async fn login_form() -> Response {
    page(
        "Sign in",
        "<form method=\"post\" action=\"/ui/login\"><input type=\"password\" name=\"key\" placeholder=\"Admin API key\" size=\"40\"> \
         <button>Sign in</button></form>",
    )
}

async fn login(State(s): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    let key = f.get("key").map(|k| k.trim().to_string()).unwrap_or_default();
    match s.config.api_keys.get(&key) {
        Some(crate::Scope::Admin) => {
            let cookie = format!("{UI_COOKIE}={key}; Path=/ui; HttpOnly; SameSite=Strict");
            ([(header::SET_COOKIE, cookie)], Redirect::to("/ui")).into_response()
        }
        _ => ApiError::unauthorized("not an admin key").into_response(),
    }
}
