//! File scopes: the gitignore-style globs naming the files a task may
//! change, and whether two scopes can ever touch the same file.
//!
//! Overlap is what keeps parallel workers apart, so it is decided
//! conservatively: two scopes overlap when a file of the tree matches both,
//! or when their patterns could match a common path that does not exist yet
//! (judged on each pattern's literal prefix and suffix). When unsure, they
//! overlap.

use globset::{Glob, GlobBuilder, GlobMatcher};

#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    #[error("scope glob '{glob}': {message}")]
    Invalid { glob: String, message: String },
    #[error("scope glob '{glob}' does not parse")]
    Syntax {
        glob: String,
        #[source]
        source: globset::Error,
    },
}

/// One pattern of a scope, compiled.
#[derive(Debug, Clone)]
struct Pattern {
    /// As the task file says it (without the `!`).
    original: String,
    /// Normalized: anchored, no leading `/`, `**/` added for bare names.
    normalized: String,
    matchers: Vec<GlobMatcher>,
}

impl Pattern {
    fn parse(original: &str) -> Result<Pattern, ScopeError> {
        let invalid = |message: &str| ScopeError::Invalid {
            glob: original.to_string(),
            message: message.to_string(),
        };
        if original.contains('\0') {
            return Err(invalid("contains a NUL byte"));
        }
        let trimmed = original.trim_end_matches('/');
        let body = trimmed.strip_prefix('/').unwrap_or(trimmed);
        if body.is_empty() {
            return Err(invalid(
                "is empty; name files relative to the repository root",
            ));
        }
        if body.starts_with('/') || original.starts_with("//") {
            return Err(invalid(
                "is absolute; name files relative to the repository root",
            ));
        }
        if body.split('/').any(|c| c == "..") {
            return Err(invalid("uses '..'; a scope cannot leave the repository"));
        }
        if body.split('/').any(|c| c == ".git") {
            return Err(invalid("names .git, which no task may change"));
        }
        // As in .gitignore: a pattern with no inner slash matches at any depth.
        let anchored = trimmed.starts_with('/') || body.contains('/');
        let normalized = if anchored {
            body.to_string()
        } else {
            format!("**/{body}")
        };
        let compile = |g: &str| -> Result<GlobMatcher, ScopeError> {
            GlobBuilder::new(g)
                .literal_separator(true)
                .build()
                .map(|g: Glob| g.compile_matcher())
                .map_err(|source| ScopeError::Syntax {
                    glob: original.to_string(),
                    source,
                })
        };
        // A pattern also covers everything below what it matches (a
        // directory name stands for its whole subtree).
        let below = if normalized.ends_with("/**") {
            None
        } else {
            Some(compile(&format!("{normalized}/**"))?)
        };
        let mut matchers = vec![compile(&normalized)?];
        matchers.extend(below);
        Ok(Pattern {
            original: original.to_string(),
            normalized,
            matchers,
        })
    }

    fn matches(&self, path: &str) -> bool {
        self.matchers.iter().any(|m| m.is_match(path))
    }

    /// The text before the first glob metacharacter.
    fn literal_prefix(&self) -> &str {
        let end = self
            .normalized
            .find(is_meta)
            .unwrap_or(self.normalized.len());
        &self.normalized[..end]
    }

    /// The text after the last metacharacter; `None` when the pattern can
    /// match anything below a directory (so no suffix is certain).
    fn literal_suffix(&self) -> Option<&str> {
        let Some(last) = self
            .normalized
            .rfind(|c| is_meta(c) || matches!(c, ']' | '}' | ','))
        else {
            return Some(&self.normalized);
        };
        let suffix = &self.normalized[last + 1..];
        if self.normalized.ends_with("**") {
            return None;
        }
        Some(suffix)
    }

    fn is_plain(&self) -> bool {
        !self.normalized.contains(is_meta)
    }

    /// Whether every path this pattern matches is also matched by the
    /// exclusion `ex` (judged on literals only, so "no" when unsure).
    fn is_covered_by(&self, ex: &Pattern) -> bool {
        let prefix = self.literal_prefix();
        let n = ex.normalized.as_str();
        if let Some(dir) = n.strip_suffix("/**") {
            // `dir/**` covers what lies strictly below dir.
            return !dir.contains(is_meta) && prefix.starts_with(&format!("{dir}/"));
        }
        // A plain name covers itself and its subtree.
        ex.is_plain()
            && (prefix.starts_with(&format!("{n}/")) || (self.is_plain() && self.normalized == n))
    }

    /// How many path components every match has, when that is fixed (no
    /// `**`); the `/**` companion is left aside by the caller.
    fn fixed_depth(&self) -> Option<usize> {
        (!self.normalized.contains("**")).then(|| self.normalized.split('/').count())
    }
}

fn is_meta(c: char) -> bool {
    matches!(c, '*' | '?' | '[' | '{' | '\\')
}

/// A task's scope.
#[derive(Debug, Clone)]
pub struct Scope {
    globs: Vec<String>,
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

impl Scope {
    pub fn parse(globs: &[String]) -> Result<Scope, ScopeError> {
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        for g in globs {
            match g.strip_prefix('!') {
                Some(rest) => exclude.push(Pattern::parse(rest)?),
                None => include.push(Pattern::parse(g)?),
            }
        }
        if include.is_empty() && !exclude.is_empty() {
            return Err(ScopeError::Invalid {
                glob: globs.join(" "),
                message: "has only exclusions; add the files the task may change".into(),
            });
        }
        Ok(Scope {
            globs: globs.to_vec(),
            include,
            exclude,
        })
    }

    /// No scope: the task may touch any file, so it overlaps every scope.
    pub fn is_unscoped(&self) -> bool {
        self.include.is_empty()
    }

    pub fn globs(&self) -> &[String] {
        &self.globs
    }

    pub fn describe(&self) -> String {
        self.globs.join(" ")
    }

    /// Whether the task may change `path`.
    pub fn matches(&self, path: &str) -> bool {
        if self.is_unscoped() {
            return true;
        }
        self.include.iter().any(|p| p.matches(path))
            && !self.exclude.iter().any(|p| p.matches(path))
    }

    /// Whether this scope's exclusions rule out every path `p` can match.
    fn excludes_all_of(&self, p: &Pattern) -> bool {
        self.exclude.iter().any(|ex| p.is_covered_by(ex))
    }
}

/// Why two scopes overlap.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Overlap {
    /// One side (or both) has no scope at all.
    Unscoped { a: bool, b: bool },
    /// Files of the tree that both match (up to three).
    Files { examples: Vec<String> },
    /// Two globs that could match the same, perhaps not yet existing, file.
    Prefix { a: String, b: String },
}

impl Overlap {
    /// Why (and on what) two scopes overlap, for messages; `a` is the task
    /// being checked, `b` the one already claimed.
    pub fn describe(&self) -> String {
        match self {
            Overlap::Unscoped { a: true, .. } => {
                "the task has no scope, so it may touch every file; give it one with `git batch update ID --add-scope GLOB`".into()
            }
            Overlap::Unscoped { .. } => {
                "the claimed task has no scope, so it may touch every file".into()
            }
            Overlap::Files { examples } => format!("both match {}", examples.join(", ")),
            Overlap::Prefix { a, b } => format!("'{a}' and '{b}' can match the same files"),
        }
    }
}

/// Whether scopes `a` and `b` can touch a common file; `files` are the
/// paths of the tree, when the caller has them (for examples).
pub fn overlap(a: &Scope, b: &Scope, files: Option<&[String]>) -> Option<Overlap> {
    if a.is_unscoped() || b.is_unscoped() {
        return Some(Overlap::Unscoped {
            a: a.is_unscoped(),
            b: b.is_unscoped(),
        });
    }
    if let Some(files) = files {
        let examples: Vec<String> = files
            .iter()
            .filter(|f| a.matches(f) && b.matches(f))
            .take(3)
            .cloned()
            .collect();
        if !examples.is_empty() {
            return Some(Overlap::Files { examples });
        }
    }
    for pa in &a.include {
        for pb in &b.include {
            if could_meet(pa, pb) && !b.excludes_all_of(pa) && !a.excludes_all_of(pb) {
                return Some(Overlap::Prefix {
                    a: pa.original.clone(),
                    b: pb.original.clone(),
                });
            }
        }
    }
    None
}

/// Whether two patterns could match one path, judged on their literal
/// prefixes and suffixes (never wrong by saying no when the answer is yes).
fn could_meet(a: &Pattern, b: &Pattern) -> bool {
    let (pa, pb) = (a.literal_prefix(), b.literal_prefix());
    // A plain path stands for itself and its subtree, so the other pattern
    // must reach it, an ancestor, or below it along whole components.
    let reaches = |plain: &str, other: &str, other_plain: bool| {
        if other_plain {
            plain == other
                || plain.starts_with(&format!("{other}/"))
                || other.starts_with(&format!("{plain}/"))
        } else {
            plain.starts_with(other) || other.starts_with(&format!("{plain}/"))
        }
    };
    let prefixes_meet = match (a.is_plain(), b.is_plain()) {
        (true, b_plain) => reaches(pa, pb, b_plain),
        (false, true) => reaches(pb, pa, false),
        (false, false) => pa.starts_with(pb) || pb.starts_with(pa),
    };
    if !prefixes_meet {
        return false;
    }
    // When every match of both has the same fixed depth, a common path is
    // matched by both globs themselves (not by a `/**` companion): then the
    // literal suffixes must agree too.
    match (a.fixed_depth(), b.fixed_depth()) {
        (Some(da), Some(db)) if da == db => match (a.literal_suffix(), b.literal_suffix()) {
            (Some(sa), Some(sb)) => sa.ends_with(sb) || sb.ends_with(sa),
            _ => true,
        },
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(globs: &[&str]) -> Scope {
        Scope::parse(&globs.iter().map(|g| g.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn overlaps(a: &[&str], b: &[&str]) -> bool {
        let (a, b) = (scope(a), scope(b));
        let one = overlap(&a, &b, None).is_some();
        assert_eq!(one, overlap(&b, &a, None).is_some(), "overlap is symmetric");
        one
    }

    #[test]
    fn matching_follows_gitignore() {
        let s = scope(&["src/*.rs", "docs/", "*.md", "!src/gen.rs"]);
        assert!(s.matches("src/lib.rs"));
        assert!(!s.matches("src/a/lib.rs"), "* does not cross /");
        assert!(
            s.matches("docs/guide/intro.txt"),
            "a directory covers its subtree"
        );
        assert!(
            s.matches("deep/down/README.md"),
            "bare names match at any depth"
        );
        assert!(!s.matches("src/gen.rs"), "exclusions win");
        assert!(scope(&["src/**"]).matches("src/a/b/c.rs"));
        assert!(scope(&["src/auth"]).matches("src/auth/login.rs"));
        // A leading slash anchors a bare name at the root, as in .gitignore.
        assert!(scope(&["/Makefile"]).matches("Makefile"));
        assert!(!scope(&["/Makefile"]).matches("sub/Makefile"));
    }

    #[test]
    fn overlaps_by_prefix_and_suffix() {
        assert!(overlaps(&["src/**"], &["src/auth/*.rs"]));
        assert!(!overlaps(&["src/*.rs"], &["src/*.md"]));
        assert!(!overlaps(&["src/a/**"], &["src/b/**"]));
        assert!(overlaps(&["docs/"], &["docs/guide.md"]));
        assert!(overlaps(&["*.md"], &["docs/x.md"]));
        assert!(!overlaps(&["src/**", "!src/gen/**"], &["src/gen/out.rs"]));
        assert!(overlaps(&["src/**", "!src/gen.rs"], &["src/*.rs"]));
        assert!(overlaps(&["src/lib.rs"], &["src/lib.rs"]));
        assert!(!overlaps(&["src/lib.rs"], &["src/main.rs"]));
        assert!(!overlaps(&["src/lib.rs"], &["src/lib.rs.bak"]));
        assert!(!overlaps(&["src/lib"], &["src/library/**"]));
        assert!(overlaps(&["src/lib*"], &["src/library/x.rs"]));
        assert!(!overlaps(&["docs/guide.md"], &["docs/*.rs"]));
        // A directory named like a file: `src/*.rs` also covers below it.
        assert!(overlaps(&["src/*.rs"], &["src/*.rs/*.md"]));
        assert!(overlaps(&["src/**", "!src/auth/**"], &["src/auth"]));
        assert!(!overlaps(&["src/**", "!src/auth"], &["src/auth"]));
    }

    #[test]
    fn unscoped_overlaps_everything() {
        let none = Scope::parse(&[]).unwrap();
        assert_eq!(
            overlap(&none, &scope(&["a/**"]), None),
            Some(Overlap::Unscoped { a: true, b: false })
        );
    }

    #[test]
    fn tree_files_give_examples() {
        let files = vec!["src/lib.rs".to_string(), "src/main.rs".to_string()];
        assert_eq!(
            overlap(&scope(&["src/*.rs"]), &scope(&["src/lib.*"]), Some(&files)),
            Some(Overlap::Files {
                examples: vec!["src/lib.rs".into()]
            })
        );
    }

    #[test]
    fn bad_globs_are_refused() {
        for bad in [
            "",
            "/",
            "../x",
            "a/../../b",
            ".git/config",
            "a\0b",
            "src/[",
            "//x",
        ] {
            assert!(Scope::parse(&[bad.to_string()]).is_err(), "{bad:?}");
        }
        assert!(Scope::parse(&["!src/**".to_string()]).is_err());
    }

    #[test]
    fn the_prefix_rule_never_misses_a_real_overlap() {
        let paths = [
            "src/lib.rs",
            "src/main.rs",
            "src/auth/login.rs",
            "src/auth/mod.rs",
            "src/gen/out.rs",
            "docs/guide.md",
            "docs/api/x.md",
            "README.md",
            "Cargo.toml",
            "tests/auth.rs",
            "src/auth",
            "docs",
        ];
        let scopes: Vec<Vec<&str>> = vec![
            vec!["src/**"],
            vec!["src/auth/*.rs"],
            vec!["src/*.rs"],
            vec!["*.md"],
            vec!["docs/"],
            vec!["src/**", "!src/auth/**"],
            vec!["src/lib.*"],
            vec!["tests/**", "Cargo.toml"],
            vec!["src/a*"],
            vec!["**/*.rs"],
            vec!["src/auth"],
            vec!["docs/*.md"],
            vec!["src/{lib,main}.rs"],
            vec!["src/?ain.rs"],
        ];
        for a in &scopes {
            for b in &scopes {
                let (sa, sb) = (scope(a), scope(b));
                if let Some(p) = paths.iter().find(|p| sa.matches(p) && sb.matches(p)) {
                    assert!(
                        overlap(&sa, &sb, None).is_some(),
                        "{a:?} and {b:?} both match {p}"
                    );
                }
            }
        }
    }
}
