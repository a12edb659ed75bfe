//! Author and committer for metadata commits made with libgit2: the people
//! git would name (see [`super::identity`]), at `GIT_AUTHOR_DATE` /
//! `GIT_COMMITTER_DATE` when set, else now.

use super::GitError;
use super::identity::{self, Role};
use git2::{Repository, Signature, Time};

/// The (author, committer) pair git would use for a commit in `repo`.
pub fn signature_from_env(
    repo: &Repository,
) -> Result<(Signature<'static>, Signature<'static>), GitError> {
    let make = |role: Role, who: &str| -> Result<Signature<'static>, GitError> {
        let person = identity::person_or_fallback(repo, role);
        let var = format!("GIT_{who}_DATE");
        let sig = match std::env::var(&var) {
            Ok(value) => {
                let time = parse_git_date(&value).ok_or(GitError::BadDate {
                    var: var.clone(),
                    value: value.clone(),
                })?;
                Signature::new(&person.name, &person.email, &time)
            }
            Err(_) => Signature::now(&person.name, &person.email),
        };
        sig.map_err(|source| GitError::Git {
            what: format!("making the {} signature", who.to_lowercase()),
            source,
        })
    };
    Ok((
        make(Role::Author, "AUTHOR")?,
        make(Role::Committer, "COMMITTER")?,
    ))
}

/// Parses the date forms git accepts in `GIT_*_DATE` that scripts use:
/// `@<secs> <±hhmm>`, `<secs> <±hhmm>`, RFC 3339 and RFC 2822.
pub fn parse_git_date(value: &str) -> Option<Time> {
    let value = value.trim();
    let raw = value.strip_prefix('@').unwrap_or(value);
    let mut parts = raw.split_whitespace();
    if let (Some(secs), tz) = (parts.next(), parts.next())
        && let Ok(secs) = secs.parse::<i64>()
    {
        let offset = match tz {
            Some(tz) => parse_offset(tz)?,
            None => 0,
        };
        return Some(Time::new(secs, offset));
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(value)
        .or_else(|_| chrono::DateTime::parse_from_rfc2822(value))
        .or_else(|_| chrono::DateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S %z"))
        .ok()?;
    Some(Time::new(
        parsed.timestamp(),
        parsed.offset().local_minus_utc() / 60,
    ))
}

fn parse_offset(tz: &str) -> Option<i32> {
    let (sign, digits) = match tz.as_bytes().first()? {
        b'+' => (1, &tz[1..]),
        b'-' => (-1, &tz[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    Some(sign * (hours * 60 + minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_git_date_forms() {
        let t = parse_git_date("@1700000000 +0100").unwrap();
        assert_eq!((t.seconds(), t.offset_minutes()), (1_700_000_000, 60));
        let t = parse_git_date("2026-01-02T03:04:05Z").unwrap();
        assert_eq!(t.offset_minutes(), 0);
        assert!(parse_git_date("yesterday-ish").is_none());
    }
}
