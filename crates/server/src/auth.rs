//! Who may call what: API keys with scopes, rate limits, and CORS for the
//! widget. The policy is one table ([`required`]), so that it can be read
//! (and tested) in one place.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::{Config, Scope};
use crate::error::ApiError;
use crate::{Shared, client_ip};

/// The editor page keeps its key in this first-party cookie.
pub(crate) const UI_COOKIE: &str = "readnext_key";

/// The scope a route needs; `None` for the public ones: health, the
/// OpenAPI document, and what the widget calls from readers' browsers
/// (the widget script, related blocks, stories and fragments, events).
pub(crate) fn required(method: &Method, route: &str) -> Option<Scope> {
    match (method.as_str(), route) {
        (_, "/healthz" | "/readyz" | "/widget.js" | "/v1/openapi.json" | "/ui/login") => None,
        (
            "GET",
            "/v1/articles/{id}/related"
            | "/v1/articles/{id}/related.html"
            | "/v1/articles/{id}/story"
            | "/v1/articles/{id}/story.html",
        ) => None,
        ("POST", "/v1/events") => None,
        ("OPTIONS", _) => None,
        (
            "GET",
            "/v1/articles"
            | "/v1/articles/{id}"
            | "/v1/trending"
            | "/v1/stories"
            | "/v1/stories/{id}"
            | "/v1/stories/{id}/story.html"
            | "/v1/users/{id}/recommendations"
            | "/metrics"
            | "/v1/cluster"
            | "/v1/rules",
        ) => Some(Scope::Read),
        ("POST", "/v1/related") => Some(Scope::Read),
        ("PUT" | "POST" | "DELETE", "/v1/articles" | "/v1/articles/{id}") => Some(Scope::Write),
        // Forgetting readers, rules, the editor page, and anything not listed.
        _ => Some(Scope::Admin),
    }
}

fn presented_key(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return Some(v.strip_prefix("Bearer ").unwrap_or(v).trim().to_string());
    }
    let cookies = req.headers().get_all(header::COOKIE);
    cookies.iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == UI_COOKIE).then(|| v.to_string())
    })
}

/// Rate limits, then authentication and scope. A valid key is limited per
/// key; anything else per IP address. Keys never reach the log.
pub(crate) async fn guard(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("", |m| m.as_str()).to_string();
    // No route matched: the answer is 404 whoever asks.
    let need = if route.is_empty() { None } else { required(req.method(), &route) };
    let key = presented_key(&req);
    let scope = key.as_deref().and_then(|k| state.config.api_keys.get(k).copied());
    let allowed = match (&key, scope) {
        (Some(k), Some(_)) => state.key_limits.allow(k),
        _ => state.ip_limits.allow(&client_ip(&req)),
    };
    if !allowed {
        return ApiError::rate_limited().into_response();
    }
    if let Some(need) = need
        && !state.config.api_keys.is_empty()
    {
        let ui = route.starts_with("/ui");
        match (key, scope) {
            (None, _) if ui => return axum::response::Redirect::to("/ui/login").into_response(),
            (None, _) => {
                return ApiError::unauthorized("this route needs an API key (Authorization: Bearer KEY)")
                    .into_response();
            }
            (Some(_), None) => return ApiError::unauthorized("unknown API key").into_response(),
            (Some(_), Some(have)) if have < need => {
                return ApiError::forbidden(format!("this route needs the {need:?} scope; the key has {have:?}"))
                    .into_response();
            }
            _ => {}
        }
    }
    next.run(req).await
}

/// CORS for the widget: the configured origins may call the public routes
/// from a browser.
pub(crate) fn cors(config: &Config) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]);
    if config.cors_origins.iter().any(|o| o == "*") {
        base.allow_origin(AllowOrigin::any())
    } else {
        let origins: Vec<HeaderValue> = config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        base.allow_origin(AllowOrigin::list(origins))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widget_routes_are_public_and_the_rest_need_scopes() {
        assert_eq!(required(&Method::GET, "/v1/articles/{id}/related"), None);
        assert_eq!(required(&Method::POST, "/v1/events"), None);
        assert_eq!(required(&Method::GET, "/v1/articles/{id}"), Some(Scope::Read));
        assert_eq!(required(&Method::PUT, "/v1/articles/{id}"), Some(Scope::Write));
        assert_eq!(required(&Method::DELETE, "/v1/users/{id}"), Some(Scope::Admin));
        assert_eq!(required(&Method::GET, "/ui"), Some(Scope::Admin));
        assert_eq!(required(&Method::GET, "/something/new"), Some(Scope::Admin), "closed by default");
    }
}
