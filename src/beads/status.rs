//! Beads statuses and git-batch's: which state each becomes on import, and
//! the markers older imports left as `beads:` labels.

use crate::task::Status;

/// Statuses that mean "finished" in trackers beads imports from; br reads
/// them as closed, and so does git-batch.
const CLOSED_ALIASES: [&str; 5] = ["done", "complete", "completed", "finished", "resolved"];

/// The state a beads status becomes (matched without regard to case), and
/// a warning when the mapping changes its meaning. `pinned` is beads'
/// `pinned: true` field. A custom status (`in_review`, `draft`, ...) is
/// kept as it was for export and becomes `deferred`: never ready, never
/// claimed, as beads treats it.
pub(super) fn import(raw: &str, pinned: bool) -> (Status, Option<String>) {
    let lower = raw.to_ascii_lowercase();
    let st = match lower.as_str() {
        "open" if pinned => {
            return (
                Status::Deferred,
                Some("pinned issue imported as deferred (not ready; its children are)".into()),
            );
        }
        "open" => Status::Open,
        "in_progress" => Status::InProgress,
        "closed" => Status::Closed,
        "deferred" => Status::Deferred,
        s if CLOSED_ALIASES.contains(&s) => Status::Closed,
        other => match legacy_marker(other) {
            Some((st, _)) => {
                return (
                    st,
                    Some(format!(
                        "status '{raw}' imported as {st} (exported back as '{raw}')"
                    )),
                );
            }
            None => {
                return (
                    Status::Deferred,
                    Some(format!(
                        "custom status '{raw}' kept (imported as deferred: not ready; exported back as '{raw}')"
                    )),
                );
            }
        },
    };
    (st, None)
}

/// Beads' own statuses that git-batch has no state for, with the state
/// they become (older imports marked them with a `beads:<name>` label).
pub(super) fn legacy_marker(name: &str) -> Option<(Status, &'static str)> {
    Some(match name {
        "tombstone" => (Status::Closed, "tombstone"),
        "hooked" => (Status::InProgress, "hooked"),
        "blocked" => (Status::Escalated, "blocked"),
        "pinned" => (Status::Deferred, "pinned"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_customs_and_case() {
        assert_eq!(import("Completed", false).0, Status::Closed);
        assert_eq!(import("RESOLVED", false), (Status::Closed, None));
        assert_eq!(import("In_Progress", false).0, Status::InProgress);
        assert_eq!(import("in_review", false).0, Status::Deferred);
        assert_eq!(import("open", true).0, Status::Deferred);
        assert_eq!(import("tombstone", false).0, Status::Closed);
    }
}
