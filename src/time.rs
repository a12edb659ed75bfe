//! Time as git-batch records it: RFC 3339 in UTC, to the second, in task
//! files, claims and run records. `GIT_BATCH_NOW` fixes "now", so that
//! tests and the demo are reproducible.

use chrono::{DateTime, Utc};

/// Now, as text for a file (`GIT_BATCH_NOW` when set).
pub fn now_text() -> String {
    if let Ok(fixed) = std::env::var("GIT_BATCH_NOW") {
        return fixed;
    }
    format(Utc::now())
}

/// Now, honouring `GIT_BATCH_NOW` like every timestamp in task files.
pub fn now() -> DateTime<Utc> {
    parse(&now_text()).unwrap_or_else(Utc::now)
}

/// Reads a recorded time; `None` when it is not RFC 3339.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Writes a time the way files record it.
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
