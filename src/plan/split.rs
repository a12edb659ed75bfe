//! `split`: one task per chunk of a list of items, in one commit.
//!
//! Chunks are fixed-size, or grouped by the first capture of a regex
//! (categorical), or by the month of the first date in each item
//! (temporal). With `scope_from_items` every item is a path and the chunk's
//! items are its scope, so the tasks are independent by construction. The
//! scope globs every task gets are templates filled per chunk, and `align`
//! makes chunk k wait for task k of an earlier plan: the phases of a
//! pipeline, each batch feeding the same batch of the next phase.

use super::{NewPlan, Plan, PlanError, Planned};
use crate::edit::{self, NewTask};
use crate::store::Store;
use crate::task::Task;
use regex::Regex;

/// How items are grouped.
#[derive(Debug, Clone)]
pub enum Chunking {
    Size(usize),
    By(Regex),
    Month,
}

/// One chunk: its key (for `{key}`) and items, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub key: String,
    pub items: Vec<String>,
}

/// Groups `items` (blank lines dropped). Grouping keeps the order in which
/// keys first appear; items without a key are an error naming the line.
pub fn chunk(items: &[String], how: &Chunking) -> Result<Vec<Chunk>, PlanError> {
    let items: Vec<(usize, &String)> = items
        .iter()
        .enumerate()
        .filter(|(_, i)| !i.trim().is_empty())
        .collect();
    match how {
        Chunking::Size(0) => Err(PlanError::Invalid("--size must be at least 1".into())),
        Chunking::Size(n) => Ok(items
            .chunks(*n)
            .enumerate()
            .map(|(i, c)| Chunk {
                key: (i + 1).to_string(),
                items: c.iter().map(|(_, s)| s.to_string()).collect(),
            })
            .collect()),
        Chunking::By(re) => group(&items, |line| {
            re.captures(line)
                .and_then(|c| c.get(1).or_else(|| c.get(0)))
                .map(|m| m.as_str().to_string())
        }),
        Chunking::Month => {
            // Digits on either side would make it part of another number
            // (`12026-01`, `2026-011`), not a month.
            let date = Regex::new(r"(?:^|[^0-9])([0-9]{4}-(?:0[1-9]|1[0-2]))(?:[^0-9]|$)")
                .expect("a valid regex");
            group(&items, |line| {
                date.captures(line)
                    .and_then(|c| c.get(1))
                    .map(|m| m.as_str().to_string())
            })
        }
    }
}

/// A field of the templates that `how` leaves without a value: with fixed
/// sizes a chunk has no key (the title falls back to the chunk number, but
/// a scope made of it would name nothing the items say).
pub fn missing_field(template: &str, how: &Chunking) -> Option<&'static str> {
    match how {
        Chunking::Size(_) if template.contains("{key}") => Some("{key}"),
        _ => None,
    }
}

fn group(
    items: &[(usize, &String)],
    key_of: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Chunk>, PlanError> {
    let mut chunks: Vec<Chunk> = Vec::new();
    for (line, item) in items {
        let key = key_of(item).ok_or_else(|| {
            PlanError::Invalid(format!(
                "stdin:{}: no key in '{item}' (it must match the grouping)",
                line + 1
            ))
        })?;
        match chunks.iter_mut().find(|c| c.key == key) {
            Some(c) => c.items.push(item.to_string()),
            None => chunks.push(Chunk {
                key,
                items: vec![item.to_string()],
            }),
        }
    }
    Ok(chunks)
}

/// Fills `{n}`, `{count}`, `{first}`, `{last}`, `{key}`.
pub fn title(template: &str, n: usize, chunk: &Chunk) -> String {
    fill(template, n, chunk, |s| s.to_string())
}

/// Fills the same fields into a scope glob, each value as literal text
/// (glob characters escaped): an item `a[1].rs` names that file, not a
/// class of them. Other braces are left alone, as the glob's alternations.
pub fn scope(template: &str, n: usize, chunk: &Chunk) -> String {
    let filled = fill(template, n, chunk, globset::escape);
    // A value that starts the glob with `!` would make it an exclusion.
    if filled.starts_with('!') && !template.starts_with('!') {
        format!("\\{filled}")
    } else {
        filled
    }
}

fn fill(template: &str, n: usize, chunk: &Chunk, quote: impl Fn(&str) -> String) -> String {
    template
        .replace("{n}", &n.to_string())
        .replace("{count}", &chunk.items.len().to_string())
        .replace(
            "{first}",
            &quote(chunk.items.first().map_or("", String::as_str)),
        )
        .replace(
            "{last}",
            &quote(chunk.items.last().map_or("", String::as_str)),
        )
        .replace("{key}", &quote(&chunk.key))
}

/// The scope glob naming exactly the file `item`: glob characters
/// escaped, from the repository root (a leading `./` or `/` dropped: the
/// glob is also the path an agent reads, so it must never name `/a.txt`).
pub fn item_scope(item: &str) -> String {
    let path = item.trim().trim_start_matches("./").trim_start_matches('/');
    globset::escape(path)
}

/// What `split` made.
#[derive(Debug, serde::Serialize)]
pub struct Split {
    pub tasks: Vec<Task>,
    /// The plan, with `--plan`.
    pub plan: Option<Planned>,
    pub commit: Option<String>,
}

/// Creates one task per chunk (its items listed in the body; `base`'s
/// scope globs filled as templates; with `scope_from_items`, the items in
/// its scope too; with `align`, depending on the same place's task of that
/// plan), and with `plan` the plan of them, all in one commit. All or
/// nothing: on any error no task is left.
pub fn split(
    store: &mut Store,
    chunks: &[Chunk],
    template: &str,
    base: &NewTask,
    scope_from_items: bool,
    align: Option<&Plan>,
    plan: Option<&NewPlan>,
) -> Result<Split, PlanError> {
    if chunks.is_empty() {
        return Err(PlanError::Invalid(
            "no items on stdin: nothing to split".into(),
        ));
    }
    if let Some(earlier) = align
        && earlier.tasks.len() != chunks.len()
    {
        // Pairing the first k of a longer plan would silently leave its
        // other batches without a next phase.
        return Err(PlanError::Misaligned {
            name: earlier.name.clone(),
            plan: earlier.tasks.len(),
            chunks: chunks.len(),
        });
    }
    if let Some(p) = plan {
        crate::task::id::validate_name(&p.name).map_err(crate::store::StoreError::from)?;
        let path = store.root.join(super::Plan::rel(&p.name));
        if path.exists() && !p.force {
            return Err(PlanError::Exists {
                name: p.name.clone(),
                path,
            });
        }
    }
    // Every task is made up first and its scope checked, so that a
    // template that fills into a bad glob for one chunk writes nothing.
    let mut news = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.iter().enumerate() {
        let mut new = base.clone();
        new.title = title(template, i + 1, chunk);
        let list: Vec<String> = chunk.items.iter().map(|s| format!("- {s}")).collect();
        let sep = if base.body.is_empty() || base.body.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        new.body = format!("{}{sep}Items:\n{}\n", base.body, list.join("\n"));
        new.scope = base.scope.iter().map(|g| scope(g, i + 1, chunk)).collect();
        if scope_from_items {
            new.scope
                .extend(chunk.items.iter().map(|item| item_scope(item)));
        }
        crate::scope::Scope::parse(&new.scope).map_err(|source| PlanError::ChunkScope {
            n: i + 1,
            key: chunk.key.clone(),
            source,
        })?;
        if let Some(earlier) = align {
            new.deps.push(earlier.tasks[i].id.clone());
        }
        if let Some(p) = plan {
            new.batch = Some(p.name.clone());
        }
        news.push(new);
    }
    let commits = store.commits_enabled();
    store.check_can_commit()?;
    let was = store.no_commit;
    store.no_commit = true;
    let mut tasks = Vec::new();
    let mut result = Ok(());
    for new in news {
        match edit::create(store, new) {
            Ok(c) => tasks.push(c.task),
            Err(e) => {
                result = Err(PlanError::from(e));
                break;
            }
        }
    }
    store.no_commit = was;
    let planned = result.and_then(|()| match plan {
        Some(p) => {
            let (forced, warnings) = super::check_plan(store, &tasks, p)?;
            let (plan, paths) = super::write_plan(store, &tasks, p)?;
            Ok(Some(Planned {
                path: paths[0].clone(),
                plan,
                forced,
                warnings,
                commit: None,
            }))
        }
        None => Ok(None),
    });
    let planned = match planned {
        Ok(p) => p,
        Err(e) => {
            for t in &tasks {
                let _ = std::fs::remove_file(store.task_path(&t.id));
            }
            return Err(e);
        }
    };
    let mut paths: Vec<String> = tasks.iter().map(|t| Store::task_rel(&t.id)).collect();
    let mut message = format!("batch: split into {} tasks", tasks.len());
    if let Some(p) = &planned {
        paths.push(p.path.clone());
        message.push_str(&format!(" (plan {})", p.plan.name));
    }
    let commit = if commits {
        store.commit(&paths, &message)?
    } else {
        None
    };
    let plan = planned.map(|mut p| {
        p.commit = commit.clone();
        p
    });
    Ok(Split {
        tasks,
        plan,
        commit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fixed_size_categorical_and_temporal_chunks() {
        let by_size = chunk(&items(&["a", "b", "", "c"]), &Chunking::Size(2)).unwrap();
        assert_eq!(by_size.len(), 2);
        assert_eq!(by_size[1].items, vec!["c"]);
        let re = Regex::new(r"^src/([^/]+)/").unwrap();
        let by_dir = chunk(
            &items(&["src/a/x.rs", "src/b/y.rs", "src/a/z.rs"]),
            &Chunking::By(re),
        )
        .unwrap();
        assert_eq!(by_dir[0].key, "a");
        assert_eq!(by_dir[0].items, vec!["src/a/x.rs", "src/a/z.rs"]);
        let by_month = chunk(
            &items(&["2026-01-03 one", "2026-02-01 two", "2026-01-30 three"]),
            &Chunking::Month,
        )
        .unwrap();
        assert_eq!(by_month[0].key, "2026-01");
        assert_eq!(by_month[0].items.len(), 2);
        assert!(chunk(&items(&["no date"]), &Chunking::Month).is_err());
        // Anywhere in the item, the first one; a date inside a longer
        // number, or month 13, is none.
        let anywhere = chunk(
            &items(&[
                "log x7 seen 2026-03-04, fixed 2026-04-01",
                "[2026-03] cache",
                "id 12026-05-01 at 2026-04-30",
            ]),
            &Chunking::Month,
        )
        .unwrap();
        let keys: Vec<&str> = anywhere.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["2026-03", "2026-04"]);
        assert!(chunk(&items(&["v2026-13"]), &Chunking::Month).is_err());
        assert_eq!(
            missing_field("out/{key}/**", &Chunking::Size(1)),
            Some("{key}")
        );
        assert_eq!(missing_field("out/{n}/**", &Chunking::Size(1)), None);
        assert_eq!(missing_field("out/{key}/**", &Chunking::Month), None);
        assert_eq!(item_scope("src/a.rs"), "src/a.rs");
        assert_eq!(item_scope("Makefile"), "Makefile");
        assert_eq!(item_scope("/a.txt"), "a.txt");
        let odd = crate::scope::Scope::parse(&[item_scope("./docs/a[1]*.md")]).unwrap();
        assert!(odd.matches("docs/a[1]*.md"));
        assert!(!odd.matches("docs/a1x.md"));
        let c = &by_dir[0];
        assert_eq!(
            title("Port {first}..{last} ({count}, #{n}, {key})", 3, c),
            "Port src/a/x.rs..src/a/z.rs (2, #3, a)"
        );
        let odd = Chunk {
            key: "a*".into(),
            items: vec!["x[1].rs".into()],
        };
        assert_eq!(
            scope("out/{key}/{n}-{first}.{json,csv}", 2, &odd),
            "out/a[*]/2-x[[]1[]].rs.{json,csv}"
        );
        let bang = Chunk {
            key: "!tmp".into(),
            items: vec!["x".into()],
        };
        let glob = scope("{key}/**", 1, &bang);
        let parsed = crate::scope::Scope::parse(std::slice::from_ref(&glob)).unwrap();
        assert!(parsed.matches("!tmp/a"), "{glob}");
        assert!(!parsed.matches("tmp/a"), "{glob}");
    }
}
