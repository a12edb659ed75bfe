//! An example path two globs share, for the messages that say two scopes
//! overlap: each glob is read as a sequence of tokens and the two are
//! walked together, building a string both accept. A candidate is kept only
//! when the real matcher of both scopes accepts it, so an example is never
//! wrong; finding none only leaves the message without one.

/// One token of a glob, after `{a,b}` and `**/` are expanded into variants.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    /// `?`: one character, not `/`.
    One,
    /// `[...]`: one character of the ranges (or of none of them).
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `*`: any run of characters without `/`.
    Star,
    /// `**` as a whole pattern, or after a trailing `/`: any run at all.
    Any,
}

impl Tok {
    /// Whether it can match the empty string.
    fn nullable(&self) -> bool {
        matches!(self, Tok::Star | Tok::Any)
    }

    /// Whether it matches a run of characters (and so may stay in place
    /// after one).
    fn repeats(&self) -> bool {
        self.nullable()
    }

    fn accepts(&self, c: char) -> bool {
        match self {
            Tok::Lit(l) => *l == c,
            Tok::One | Tok::Star => c != '/',
            Tok::Any => true,
            Tok::Class { negated, ranges } => {
                c != '/' && ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
        }
    }
}

/// How many variants of one glob are tried at most (alternations and `**/`
/// multiply them).
const MAX_VARIANTS: usize = 32;
/// How many candidates are checked at most: for one pair of variants (an
/// exclusion may refuse all the paths one walk makes), and in all; and how
/// many steps all walks take (a message must not cost more than a claim).
const PAIR_CANDIDATES: usize = 8;
const MAX_CANDIDATES: usize = 96;
const MAX_STEPS: usize = 4_000;

/// A path that `a` and `b` (normalized globs) could both match, checked by
/// `accept` (the two scopes' own matchers); `None` when none was found.
pub(super) fn shared_path(a: &str, b: &str, accept: &dyn Fn(&str) -> bool) -> Option<String> {
    let (va, vb) = (variants(a), variants(b));
    let mut left = MAX_CANDIDATES;
    let mut steps = MAX_STEPS;
    // Each pass takes another of the characters two tokens share, at every
    // place: an exclusion that refuses `a/...` lets `b/...` through.
    for pick in 0..3 {
        for ta in &va {
            for tb in &vb {
                let mut budget = PAIR_CANDIDATES.min(left);
                let found = walk(ta, tb, pick, accept, &mut budget, &mut steps);
                left -= PAIR_CANDIDATES.min(left) - budget;
                if found.is_some() || left == 0 || steps == 0 {
                    return found;
                }
            }
        }
    }
    None
}

/// The token sequences of a glob: each alternative of its `{...}`, each
/// `**/` taken as no directory or as some, each with and without the
/// subtree below what it names (a scope covers that too).
fn variants(glob: &str) -> Vec<Vec<Tok>> {
    let mut out = Vec::new();
    for text in alternatives(glob) {
        let Some(parts) = tokenize(&text) else {
            continue;
        };
        for toks in parts {
            let below = !matches!(toks.as_slice(), [.., Tok::Lit('/'), Tok::Any] | [Tok::Any]);
            if below {
                let mut deeper = toks.clone();
                deeper.extend([Tok::Lit('/'), Tok::Any]);
                out.push(toks);
                out.push(deeper);
            } else {
                out.push(toks);
            }
            if out.len() >= MAX_VARIANTS {
                return out;
            }
        }
    }
    out
}

/// `{a,b}` expanded (globset does not nest them); escapes and classes kept.
fn alternatives(glob: &str) -> Vec<String> {
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class => {
                let Some(len) = chars[i..].iter().position(|&c| c == '}') else {
                    return vec![glob.to_string()];
                };
                let head: String = chars[..i].iter().collect();
                let inner: String = chars[i + 1..i + len].iter().collect();
                let tail: String = chars[i + len + 1..].iter().collect();
                let mut out = Vec::new();
                for choice in inner.split(',') {
                    for rest in alternatives(&tail) {
                        out.push(format!("{head}{choice}{rest}"));
                        if out.len() >= MAX_VARIANTS {
                            return out;
                        }
                    }
                }
                return out;
            }
            _ => {}
        }
        i += 1;
    }
    vec![glob.to_string()]
}

/// The token sequences of a glob without alternations; a `**/` at the start
/// or inside gives two (no directory, or some); `None` when it does not
/// read (the real matcher refused it already).
fn tokenize(glob: &str) -> Option<Vec<Vec<Tok>>> {
    let mut seqs: Vec<Vec<Tok>> = vec![Vec::new()];
    let components: Vec<&str> = glob.split('/').collect();
    let last = components.len() - 1;
    for (k, comp) in components.iter().enumerate() {
        if *comp == "**" {
            if k == last {
                // `a/**` (the separator is already there) or `**` alone.
                for s in &mut seqs {
                    s.push(Tok::Any);
                }
            } else {
                // `**/`: no directory, or some directories.
                let mut with = seqs.clone();
                for s in &mut with {
                    s.extend([Tok::Any, Tok::Lit('/')]);
                }
                seqs.extend(with);
                seqs.truncate(MAX_VARIANTS);
            }
            continue;
        }
        let toks = component(comp)?;
        for s in &mut seqs {
            s.extend(toks.iter().cloned());
            if k != last {
                s.push(Tok::Lit('/'));
            }
        }
    }
    Some(seqs)
}

fn component(text: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                toks.push(Tok::Lit(*chars.get(i + 1)?));
                i += 1;
            }
            '?' => toks.push(Tok::One),
            '*' => {
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
            }
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!' | '^'));
                if negated {
                    j += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let c = *chars.get(j)?;
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|&e| e != ']')
                    {
                        ranges.push((c, chars[j + 2]));
                        j += 3;
                    } else {
                        ranges.push((c, c));
                        j += 1;
                    }
                }
                toks.push(Tok::Class { negated, ranges });
                i = j;
            }
            c => toks.push(Tok::Lit(c)),
        }
        i += 1;
    }
    Some(toks)
}

/// A few characters both tokens accept, the literal ones of either first
/// (an exclusion may refuse one of them and not another).
fn common(a: &Tok, b: &Tok) -> Vec<char> {
    let literal = |t: &Tok| -> Vec<char> {
        match t {
            Tok::Lit(c) => vec![*c],
            Tok::Class {
                negated: false,
                ranges,
            } => ranges.iter().map(|r| r.0).collect(),
            _ => Vec::new(),
        }
    };
    let pool = literal(a)
        .into_iter()
        .chain(literal(b))
        .chain("xyab0_.-".chars())
        .chain((' '..='~').filter(|c| *c != '/'));
    let mut out: Vec<char> = Vec::new();
    for c in pool {
        if a.accepts(c) && b.accepts(c) && !out.contains(&c) {
            out.push(c);
            if out.len() == 3 {
                break;
            }
        }
    }
    out
}

/// The walk over both sequences at once, depth first: at each step one
/// token is passed (when it may match nothing) or one character is added
/// that both accept. Every step moves on in at least one sequence, and
/// states known to lead nowhere are not entered twice.
fn walk(
    a: &[Tok],
    b: &[Tok],
    pick: usize,
    accept: &dyn Fn(&str) -> bool,
    budget: &mut usize,
    steps: &mut usize,
) -> Option<String> {
    let mut dead = vec![false; (a.len() + 1) * (b.len() + 1)];
    let mut path = String::new();
    let mut walker = Walker {
        a,
        b,
        pick,
        accept,
        budget,
        steps,
        dead: &mut dead,
    };
    walker.step(0, 0, &mut path)
}

/// One walk's fixed inputs and its bookkeeping.
struct Walker<'w> {
    a: &'w [Tok],
    b: &'w [Tok],
    /// Which of the shared characters to take (the first when fewer).
    pick: usize,
    accept: &'w dyn Fn(&str) -> bool,
    budget: &'w mut usize,
    steps: &'w mut usize,
    /// States known to lead to no candidate at all.
    dead: &'w mut [bool],
}

impl Walker<'_> {
    fn step(&mut self, i: usize, j: usize, path: &mut String) -> Option<String> {
        let width = self.b.len() + 1;
        if *self.budget == 0 || *self.steps == 0 || self.dead[i * width + j] {
            return None;
        }
        *self.steps -= 1;
        let (ta, tb) = (self.a.get(i), self.b.get(j));
        if ta.is_none() && tb.is_none() {
            *self.budget -= 1;
            return (sane(path) && (self.accept)(path)).then(|| path.clone());
        }
        let mut moves: Vec<(Option<char>, usize, usize)> = Vec::new();
        let both_repeat = ta.is_some_and(Tok::repeats) && tb.is_some_and(Tok::repeats);
        // Two wildcards side by side share a plain character (`x`), else a
        // wildcard first matches nothing, so examples read like real names.
        if !both_repeat {
            if ta.is_some_and(Tok::nullable) {
                moves.push((None, i + 1, j));
            }
            if tb.is_some_and(Tok::nullable) {
                moves.push((None, i, j + 1));
            }
        }
        if let (Some(x), Some(y)) = (ta, tb) {
            let shared = common(x, y);
            if let Some(&c) = shared.get(self.pick).or(shared.first()) {
                match (x.repeats(), y.repeats()) {
                    (false, false) => moves.push((Some(c), i + 1, j + 1)),
                    (true, false) => moves.push((Some(c), i, j + 1)),
                    (false, true) => moves.push((Some(c), i + 1, j)),
                    (true, true) => {
                        moves.push((Some(c), i + 1, j));
                        moves.push((Some(c), i, j + 1));
                    }
                }
            }
        }
        if both_repeat {
            moves.push((None, i + 1, j));
            moves.push((None, i, j + 1));
        }
        let mut reached_end = false;
        for (c, ni, nj) in moves {
            let len = path.len();
            if let Some(c) = c {
                path.push(c);
            }
            let found = self.step(ni, nj, path);
            path.truncate(len);
            if found.is_some() {
                return found;
            }
            // A state whose walks ended in candidates the matchers refused
            // is not dead: another prefix may pass.
            reached_end |= !self.dead[ni * width + nj];
        }
        if !reached_end {
            self.dead[i * width + j] = true;
        }
        None
    }
}

/// A path of a tree: relative, no empty component.
fn sane(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(a: &str, b: &str) -> Option<String> {
        let ga = globset::GlobBuilder::new(a)
            .literal_separator(true)
            .build()
            .unwrap()
            .compile_matcher();
        let gb = globset::GlobBuilder::new(b)
            .literal_separator(true)
            .build()
            .unwrap()
            .compile_matcher();
        shared_path(a, b, &|p| ga.is_match(p) && gb.is_match(p))
    }

    #[test]
    fn finds_a_path_both_globs_match() {
        assert_eq!(
            shared("src/*.rs", "src/lib*").as_deref(),
            Some("src/libx.rs")
        );
        assert_eq!(shared("**/*.rs", "src/*").as_deref(), Some("src/x.rs"));
        assert_eq!(
            shared("src/{a,b}.rs", "src/b*").as_deref(),
            Some("src/b.rs")
        );
        assert_eq!(shared("src/[0-9]?", "src/*x").as_deref(), Some("src/0x"));
        assert_eq!(shared("docs/**", "**/*.md").as_deref(), Some("docs/x.md"));
        assert_eq!(
            shared("Cargo.toml", "**/Cargo.toml").as_deref(),
            Some("Cargo.toml")
        );
        assert_eq!(shared("src/*.rs", "src/*.md"), None);
        assert_eq!(shared("Cargo.toml", "sub/Cargo.toml"), None);
    }
}
