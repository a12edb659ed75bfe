//! The landing commit's message: what landed, on which base, from which
//! branch tips. Written and read here only (`review` finds each task's
//! commits from it, the sweep finds which of this clone's branches landed
//! as they are). docs/format.md describes the lines.

use git2::Oid;

/// The subject every landing commit starts with.
const SUBJECT: &str = "batch: land ";
const BASE: &str = "Base:";
const LANDED: &str = "Landed:";
const FROM: &str = "From:";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandingMessage {
    /// The tip the landing was built on.
    pub base: Oid,
    /// The tasks in the order they were stacked: task N's commits are
    /// between task N-1's landed commit (or `base`) and its own.
    pub landed: Vec<String>,
    /// The worker branch tip each task landed from (older landings have
    /// none).
    pub from: Vec<(String, Oid)>,
}

impl LandingMessage {
    pub fn render(&self) -> String {
        let mut lines: Vec<String> = self
            .landed
            .iter()
            .map(|id| format!("{LANDED} {id}"))
            .collect();
        lines.extend(
            self.from
                .iter()
                .map(|(id, tip)| format!("{FROM} {id} {tip}")),
        );
        format!(
            "{SUBJECT}{} task(s)\n\n{BASE} {}\n{}",
            self.landed.len(),
            self.base,
            lines.join("\n")
        )
    }

    /// The landing a commit message records; `None` when it is not a
    /// landing's (or its base cannot be read).
    pub fn parse(message: &str) -> Option<LandingMessage> {
        if !message.starts_with(SUBJECT) {
            return None;
        }
        let values = |key: &'static str| {
            message
                .lines()
                .filter_map(move |l| l.strip_prefix(key))
                .map(str::trim)
        };
        let base = Oid::from_str(values(BASE).next()?).ok()?;
        let landed = values(LANDED).map(String::from).collect();
        let from = values(FROM)
            .filter_map(|v| {
                let (id, tip) = v.split_once(' ')?;
                Some((id.to_string(), Oid::from_str(tip.trim()).ok()?))
            })
            .collect();
        Some(LandingMessage { base, landed, from })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_landing_message_reads_back_as_written() {
        let oid = |c: char| Oid::from_str(&c.to_string().repeat(40)).unwrap();
        let m = LandingMessage {
            base: oid('a'),
            landed: vec!["bt-1".into(), "bt-2".into()],
            from: vec![("bt-1".into(), oid('b')), ("bt-2".into(), oid('c'))],
        };
        let text = m.render();
        assert!(text.starts_with("batch: land 2 task(s)\n\nBase: aaaa"));
        assert_eq!(LandingMessage::parse(&text), Some(m));
        assert_eq!(LandingMessage::parse("batch: done bt-1"), None);
    }
}
