//! Reading events as JSON: the shape `POST /v1/events` and
//! `readnext events` share. Each problem names its field.

use readnext_core::{Event, EventKind, parse_date};
use serde_json::Value;

/// A field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field.
    pub field: &'static str,
    /// The problem.
    pub problem: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.field, self.problem)
    }
}

fn bad(field: &'static str, problem: impl Into<String>) -> FieldError {
    FieldError { field, problem: problem.into() }
}

/// Longest user or article id an event may carry, in characters.
pub const MAX_ID_CHARS: usize = 512;

/// One event: `{"user", "article", "type": "impression" | "click", "time"
/// (RFC 3339 or ms since the epoch; `now_ms` when absent), "position", "slate"}`.
pub fn parse_event(v: &Value, now_ms: i64) -> Result<Event, FieldError> {
    if !v.is_object() {
        return Err(bad("event", "must be a JSON object"));
    }
    let text = |name: &'static str| -> Result<String, FieldError> {
        match v.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= MAX_ID_CHARS => {
                Ok(s.trim().to_string())
            }
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(_) => Err(bad(
                name,
                format!(
                    "must be a number, or a string of at most {MAX_ID_CHARS} characters that is not only white space"
                ),
            )),
            None => Err(bad(name, "is required")),
        }
    };
    let user = text("user")?;
    let article = text("article")?;
    let kind = match v.get("type").and_then(Value::as_str) {
        Some("impression") => EventKind::Impression,
        Some("click") => EventKind::Click,
        _ => return Err(bad("type", "must be \"impression\" or \"click\"")),
    };
    let time_ms = match v.get("time") {
        None | Some(Value::Null) => now_ms,
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| bad("time", "must be an integer (ms)"))?,
        Some(Value::String(s)) => parse_date(s).map_err(|e| bad("time", e.to_string()))?.saturating_mul(1000),
        Some(_) => return Err(bad("time", "must be RFC 3339 or milliseconds since the epoch")),
    };
    let position = match v.get("position") {
        None | Some(Value::Null) => None,
        Some(p) => Some(
            p.as_u64()
                .and_then(|p| u32::try_from(p).ok())
                .ok_or_else(|| bad("position", "must be a non-negative integer"))?,
        ),
    };
    let slate = match v.get("slate") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("slate", "must be an array of article ids"))?,
        Some(_) => return Err(bad("slate", "must be an array of article ids")),
    };
    Ok(Event { user, article, kind, time_ms, position, slate })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_validated_field_by_field() {
        let ok =
            parse_event(&json!({"user": "u", "article": "a", "type": "click", "position": 2, "slate": ["a", "b"]}), 5)
                .unwrap();
        assert_eq!((ok.kind, ok.time_ms, ok.position, ok.slate.len()), (EventKind::Click, 5, Some(2), 2));
        let t =
            parse_event(&json!({"user": "u", "article": "a", "type": "impression", "time": "2025-01-01T00:00:00Z"}), 0)
                .unwrap();
        assert_eq!(t.time_ms, 1_735_689_600_000);
        for (bad, field) in [
            (json!({"article": "a", "type": "click"}), "user"),
            (json!({"user": "u", "article": "a", "type": "view"}), "type"),
            (json!({"user": "u", "article": "a", "type": "click", "time": "yesterday"}), "time"),
            (json!({"user": "u", "article": "a", "type": "click", "position": -1}), "position"),
            (json!({"user": "u", "article": "", "type": "click"}), "article"),
            (json!([1]), "event"),
        ] {
            assert_eq!(parse_event(&bad, 0).unwrap_err().field, field, "{bad}");
        }
    }
}
