//! File scopes: the globs naming the files a task may change, and whether
//! two scopes can ever touch the same file.
//!
//! A glob is a path from the repository root, as in git's `:(glob)`
//! pathspecs: `Cargo.toml` is the top-level file, `**/Cargo.toml` one at any
//! depth, `docs/` (or `docs/**`) a directory's subtree; `*` and `?` do not
//! cross `/`; a leading `!` excludes. A name without wildcards also covers
//! everything below it (a directory's subtree), as in git. The leading `/` of older task files is read as the root
//! it always meant, and never written ([`normalize`]). This one matcher
//! decides for the claims, the hooks, `done` and the landing alike.
//!
//! Overlap is what keeps parallel workers apart, so it is decided
//! conservatively: two scopes overlap when a file of the tree matches both,
//! or when their patterns could match a common path that does not exist yet
//! (judged on each pattern's literal prefix and suffix). When unsure, they
//! overlap.

mod example;

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
    /// Normalized: from the root, without a leading or trailing `/`.
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
        // Always from the root (format 2): a bare name is the top-level
        // file, never one at any depth as it was under gitignore rules.
        let normalized = body.to_string();
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
        // As in git's pathspecs, a name without wildcards also covers
        // everything below it (a directory stands for its subtree); a glob
        // with wildcards names only the paths it matches.
        let below = if normalized.contains(is_meta) {
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
    /// `**`, and no alternation or class that might hold a `/`); the `/**`
    /// companion of a plain name is left aside by the caller.
    fn fixed_depth(&self) -> Option<usize> {
        (!self.normalized.contains("**") && !self.normalized.contains(['{', '[', '\\']))
            .then(|| self.normalized.split('/').count())
    }
}

/// A glob as task files keep it: the leading `/` older files (and `split`)
/// wrote to anchor a name at the root is dropped, since every glob is from
/// the root now; an exclusion keeps its `!`.
pub fn normalize(glob: &str) -> String {
    let (bang, body) = match glob.strip_prefix('!') {
        Some(rest) => ("!", rest),
        None => ("", glob),
    };
    match body.strip_prefix('/') {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => format!("{bang}{rest}"),
        _ => glob.to_string(),
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
    /// Two globs that could match the same, perhaps not yet existing, file;
    /// `example` is such a path, when one was found.
    Prefix {
        a: String,
        b: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        example: Option<String>,
    },
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
            Overlap::Prefix {
                a,
                b,
                example: Some(path),
            } => format!("'{a}' and '{b}' can match the same files (e.g. {path})"),
            Overlap::Prefix { a, b, .. } => format!("'{a}' and '{b}' can match the same files"),
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
    // The first pair of globs that may meet, or better the first of them
    // with a path to show.
    let both = |p: &str| a.matches(p) && b.matches(p);
    let mut first = None;
    for (pa, pb) in meeting(a, b) {
        let example = example::shared_path(&pa.normalized, &pb.normalized, &both);
        let found = Overlap::Prefix {
            a: pa.original.clone(),
            b: pb.original.clone(),
            example: example.clone(),
        };
        if example.is_some() {
            return Some(found);
        }
        first.get_or_insert(found);
    }
    first
}

/// The pairs of included globs that may match a common path, exclusions
/// counted: the decision itself, without the examples.
fn meeting<'s>(a: &'s Scope, b: &'s Scope) -> impl Iterator<Item = (&'s Pattern, &'s Pattern)> {
    a.include
        .iter()
        .flat_map(move |pa| b.include.iter().map(move |pb| (pa, pb)))
        .filter(|(pa, pb)| could_meet(pa, pb) && !b.excludes_all_of(pa) && !a.excludes_all_of(pb))
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
    // Globs with wildcards match whole paths only (no companion below), so
    // a common path ends with the literal tail of both (a leading `/` of a
    // tail left aside: `**/x` also matches `x` at the top).
    if !a.is_plain()
        && !b.is_plain()
        && let (Some(sa), Some(sb)) = (a.literal_suffix(), b.literal_suffix())
    {
        let (sa, sb) = (sa.trim_start_matches('/'), sb.trim_start_matches('/'));
        if !(sa.ends_with(sb) || sb.ends_with(sa)) {
            return false;
        }
    }
    // When every match of both has the same fixed depth, a common path is
    // matched by both globs themselves (not by a `/**` companion): then the
    // literal suffixes must agree too.
    match (a.fixed_depth(), b.fixed_depth()) {
        (Some(da), Some(db)) if da == db => match (a.literal_suffix(), b.literal_suffix()) {
            (Some(sa), Some(sb)) => sa.ends_with(sb) || sb.ends_with(sa),
            _ => true,
        },
        // A glob with wildcards matches paths of its own depth only; a
        // plain name, those and everything below.
        (Some(da), Some(db)) => match (a.is_plain(), b.is_plain()) {
            (false, false) => false,
            (true, false) => db > da,
            (false, true) => da > db,
            (true, true) => true,
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
    fn globs_are_paths_from_the_root() {
        let s = scope(&["src/*.rs", "docs/", "*.md", "!src/gen.rs"]);
        assert!(s.matches("src/lib.rs"));
        assert!(!s.matches("src/a/lib.rs"), "* does not cross /");
        assert!(
            s.matches("docs/guide/intro.txt"),
            "a directory covers its subtree"
        );
        assert!(s.matches("README.md"));
        assert!(
            !s.matches("deep/down/README.md"),
            "a bare name is the top-level file"
        );
        assert!(!s.matches("src/gen.rs"), "exclusions win");
        assert!(scope(&["src/**"]).matches("src/a/b/c.rs"));
        assert!(scope(&["src/auth"]).matches("src/auth/login.rs"));
        assert!(scope(&["Cargo.toml"]).matches("Cargo.toml"));
        assert!(!scope(&["Cargo.toml"]).matches("sub/Cargo.toml"));
        assert!(scope(&["**/Cargo.toml"]).matches("sub/Cargo.toml"));
        assert!(scope(&["**/Cargo.toml"]).matches("Cargo.toml"));
        // The leading slash of older files means the same root.
        assert!(scope(&["/Makefile"]).matches("Makefile"));
        assert!(!scope(&["/Makefile"]).matches("sub/Makefile"));
    }

    #[test]
    fn normalize_drops_the_old_leading_slash() {
        assert_eq!(normalize("/Makefile"), "Makefile");
        assert_eq!(normalize("!/gen/**"), "!gen/**");
        assert_eq!(normalize("src/*.rs"), "src/*.rs");
        // Not a root-anchored name: left for the parser to refuse.
        assert_eq!(normalize("//x"), "//x");
        assert_eq!(normalize("/"), "/");
    }

    #[test]
    fn two_top_level_files_do_not_overlap() {
        assert!(!overlaps(&["Cargo.toml"], &["README.md"]));
        assert!(!overlaps(&["Cargo.toml"], &["sub/Cargo.toml"]));
        assert!(overlaps(&["**/Cargo.toml"], &["sub/Cargo.toml"]));
        assert!(overlaps(&["/Cargo.toml"], &["Cargo.toml"]));
        let o = overlap(&scope(&["src/*.rs"]), &scope(&["**/lib.rs"]), None);
        assert_eq!(
            o.map(|o| o.describe()).as_deref(),
            Some("'src/*.rs' and '**/lib.rs' can match the same files (e.g. src/lib.rs)")
        );
    }

    #[test]
    fn overlaps_by_prefix_and_suffix() {
        assert!(overlaps(&["src/**"], &["src/auth/*.rs"]));
        assert!(!overlaps(&["src/*.rs"], &["src/*.md"]));
        assert!(!overlaps(&["src/a/**"], &["src/b/**"]));
        assert!(overlaps(&["docs/"], &["docs/guide.md"]));
        assert!(overlaps(&["**/*.md"], &["docs/x.md"]));
        assert!(!overlaps(&["*.md"], &["docs/x.md"]));
        assert!(!overlaps(&["src/**", "!src/gen/**"], &["src/gen/out.rs"]));
        assert!(overlaps(&["src/**", "!src/gen.rs"], &["src/*.rs"]));
        assert!(overlaps(&["src/lib.rs"], &["src/lib.rs"]));
        assert!(!overlaps(&["src/lib.rs"], &["src/main.rs"]));
        assert!(!overlaps(&["src/lib.rs"], &["src/lib.rs.bak"]));
        assert!(!overlaps(&["src/lib"], &["src/library/**"]));
        // `src/lib*` names src/library itself, not what lies below it.
        assert!(!overlaps(&["src/lib*"], &["src/library/x.rs"]));
        assert!(overlaps(&["src/lib*/**"], &["src/library/x.rs"]));
        assert!(!overlaps(&["docs/guide.md"], &["docs/*.rs"]));
        // As in git, a glob with wildcards does not cover what lies below
        // its matches; a plain name does.
        assert!(!overlaps(&["src/*.rs"], &["src/*.rs/*.md"]));
        assert!(overlaps(&["src/lib.rs"], &["src/*/*.md"]));
        assert!(!overlaps(&["**/Cargo.toml"], &["src/*.rs"]));
        assert!(!overlaps(&["**/Cargo.toml"], &["**/lib.rs"]));
        assert!(overlaps(&["**/b"], &["b"]));
        assert!(overlaps(&["**/b"], &["*"]));
        assert!(!scope(&["src/*.rs"]).matches("src/a.rs/b"));
        assert!(scope(&["src/a.rs"]).matches("src/a.rs/b"));
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

    /// Scopes of one or two components (some with an exclusion) against
    /// every path of up to three components: whenever a path matches both,
    /// the decision must say they overlap, and the example it names must
    /// be matched by both.
    #[test]
    fn the_decision_never_misses_a_real_overlap() {
        let parts = [
            "a", "b", "*", "a*", "*.rs", "?", "[ab]", "{a,b}.rs", "**", "[!a]*",
        ];
        let mut globs: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
        for x in parts {
            for y in parts {
                globs.push(format!("{x}/{y}"));
            }
        }
        globs.extend(
            [
                "a/**/b",
                "**/a/*.rs",
                "/a",
                "a/",
                "{a/b,c}",
                "a/{b,c/a}",
                "**/b",
                "**/*.rs",
                "**/a*",
                "*.r[s]",
            ]
            .map(String::from),
        );
        let mut scopes: Vec<Vec<String>> = globs.iter().map(|g| vec![g.clone()]).collect();
        for ex in ["!a/b", "!*/a.rs", "!b/**", "!a"] {
            for g in ["*/*", "**", "a/**", "*"] {
                scopes.push(vec![g.to_string(), ex.to_string()]);
            }
        }
        let scopes: Vec<(Vec<String>, Scope)> = scopes
            .into_iter()
            .filter_map(|g| Scope::parse(&g).ok().map(|s| (g, s)))
            .collect();
        let names = ["a", "b", "a.rs", "b.rs", "c"];
        let mut level: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut paths = level.clone();
        for _ in 0..2 {
            level = level
                .iter()
                .flat_map(|p| names.iter().map(move |n| format!("{p}/{n}")))
                .collect();
            paths.extend(level.iter().cloned());
        }
        let mut missing_examples = Vec::new();
        for (ga, a) in &scopes {
            let on_a: Vec<&String> = paths.iter().filter(|p| a.matches(p)).collect();
            for (gb, b) in &scopes {
                let Some(p) = on_a.iter().find(|p| b.matches(p)) else {
                    continue;
                };
                // The decision alone (examples cost more), then with them.
                assert!(
                    meeting(a, b).next().is_some(),
                    "{ga:?} and {gb:?} both match {p}"
                );
                match overlap(a, b, None) {
                    Some(Overlap::Prefix {
                        example: Some(e), ..
                    }) => assert!(a.matches(&e) && b.matches(&e), "{ga:?} {gb:?}: {e}"),
                    Some(Overlap::Prefix { example: None, .. }) => {
                        missing_examples.push(format!("{ga:?} {gb:?} ({p})"))
                    }
                    other => panic!("{ga:?} and {gb:?} both match {p}: {other:?}"),
                }
            }
        }
        assert!(
            missing_examples.is_empty(),
            "no example: {missing_examples:#?}"
        );
    }
}
