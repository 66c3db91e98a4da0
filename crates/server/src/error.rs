//! The one place where failures become HTTP status codes and JSON bodies:
//! `{"error": {"code": "not_found", "message": "..."}}`. Codes are stable;
//! messages name the field or id at fault.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use readnext_recommend::RecommendError;

/// An error answered to the caller.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// For people.
    pub message: String,
}

impl ApiError {
    /// 400: the request is malformed or a field is invalid.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, code: "bad_request", message: message.into() }
    }
    /// 400 naming a field.
    pub fn field(field: &str, problem: impl std::fmt::Display) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, code: "invalid_field", message: format!("`{field}`: {problem}") }
    }
    /// 404.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, code: "not_found", message: what.into() }
    }
    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::UNAUTHORIZED, code: "unauthorized", message: message.into() }
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::FORBIDDEN, code: "forbidden", message: message.into() }
    }
    /// 413.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: format!("request body over the limit of {limit} bytes"),
        }
    }
    /// 429.
    pub fn rate_limited() -> ApiError {
        ApiError { status: StatusCode::TOO_MANY_REQUESTS, code: "rate_limited", message: "too many requests".into() }
    }
    /// 503: the service cannot take the request now (the cluster's write
    /// log has no quorum); nothing was done, and it may be retried.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::SERVICE_UNAVAILABLE, code: "unavailable", message: message.into() }
    }
    /// 500: our fault. The details go to the log, not to the caller.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "internal error");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error (see the server log)".into(),
        }
    }
}

impl From<RecommendError> for ApiError {
    fn from(e: RecommendError) -> ApiError {
        match e {
            RecommendError::NotFound(id) => ApiError::not_found(format!("no article with id {id:?}")),
            RecommendError::Analysis(a) => ApiError::bad_request(a.to_string()),
            RecommendError::Store(readnext_store::StoreError::Invalid(m)) => ApiError::bad_request(m),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS || self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        r
    }
}
