//! Where in a TOML file a parse or deserialize error lies, so that it can be
//! reported as `file:line: key: message`: the toml crate gives only a byte
//! span, and a person fixing the file wants the line and the dotted key.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The 1-based line of `err` in `text`, and its message (one line), led by
/// the dotted key of the value it concerns (`workers.timeout: ...`) when
/// the span falls on one.
pub fn locate(text: &str, err: &toml::de::Error) -> (usize, String) {
    let message = err.message().lines().next().unwrap_or("").to_string();
    let Some(span) = err.span() else {
        return (1, message);
    };
    let start = span.start.min(text.len());
    let line = text.as_bytes()[..start]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1;
    // A syntax error has no key to find; the document does not parse then.
    let key = DeTable::parse(text).ok().and_then(|doc| {
        let mut best = None;
        in_table(doc.get_ref(), "", start, &mut best);
        best.map(|(_, key)| key)
    });
    match key {
        Some(key) => (line, format!("{key}: {message}")),
        None => (line, message),
    }
}

/// The narrowest key or value span holding `pos`, and its dotted key.
type Best = Option<(usize, String)>;

fn in_table(table: &DeTable<'_>, prefix: &str, pos: usize, best: &mut Best) {
    for (k, v) in table.iter() {
        let key = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        consider(k.span(), &key, pos, best);
        in_value(v, key, pos, best);
    }
}

fn in_value(v: &Spanned<DeValue<'_>>, key: String, pos: usize, best: &mut Best) {
    consider(v.span(), &key, pos, best);
    match v.get_ref() {
        DeValue::Table(t) => in_table(t, &key, pos, best),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                in_value(item, format!("{key}[{i}]"), pos, best);
            }
        }
        _ => {}
    }
}

fn consider(span: std::ops::Range<usize>, key: &str, pos: usize, best: &mut Best) {
    let holds = span.contains(&pos) || (span.is_empty() && span.start == pos);
    if holds && best.as_ref().is_none_or(|(len, _)| span.len() < *len) {
        *best = Some((span.len(), key.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        inner: Inner,
        #[serde(default)]
        list: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    fn located(text: &str) -> (usize, String) {
        let err = toml::from_str::<Doc>(text).unwrap_err();
        locate(text, &err)
    }

    #[test]
    fn names_the_line_and_the_key() {
        let (line, msg) = located("name = \"x\"\n\n[inner]\nn = \"four\"\n");
        assert_eq!(line, 4);
        assert!(msg.starts_with("inner.n: "), "{msg}");
        let (line, msg) =
            located("name = \"x\"\ninner = { n = 1 }\n[[list]]\nn = 1\n[[list]]\nn = -1\n");
        assert_eq!(line, 6);
        assert!(msg.starts_with("list[1].n: "), "{msg}");
    }

    #[test]
    fn a_syntax_error_has_a_line_only() {
        let (line, msg) = located("name = \"x\"\ninner = \n");
        assert_eq!(line, 2);
        assert!(!msg.contains(": invalid"), "{msg}");
    }
}
