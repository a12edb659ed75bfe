//! What the commands ask the cache: ready tasks (streamed as JSON, best
//! first), lists by filter, one task, children, blockers, the graph's nodes.
//!
//! Every answer that parses rows goes through `repairing`: a row this binary
//! cannot read rebuilds the cache and the question is asked again.

use super::*;

impl Cache {
    /// Calls `each` with the JSON of every ready task, best first; `limit`
    /// 0 means all. `parent` keeps the descendants of that task only,
    /// `labels` the tasks that have every one of them; tasks in `skip` (the
    /// claimed ones) are left out.
    ///
    /// The JSON is the row's, unparsed: parsing takes about 1 µs a task,
    /// against 19 ms for all of `ready --json` at 10k tasks. Rows of another
    /// git-batch are kept out by the schema version, not checked here;
    /// [`Cache::ready`] parses, and repairs.
    pub fn ready_json(
        &self,
        parent: Option<&str>,
        labels: &[String],
        limit: usize,
        skip: &HashSet<String>,
        mut each: impl FnMut(&str) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>, CacheError> {
        self.ready_rows(parent, labels, limit, skip, |_, json| each(json))
    }

    /// The ready tasks, best first, as [`Cache::ready_json`] chooses them.
    pub fn ready(
        &self,
        parent: Option<&str>,
        labels: &[String],
        limit: usize,
        skip: &HashSet<String>,
    ) -> Result<Vec<Task>, CacheError> {
        self.repairing(|cache| {
            let mut tasks = Vec::new();
            cache
                .ready_rows(parent, labels, limit, skip, |id, json| {
                    tasks.push(cache.parse_row(id, "json", json)?);
                    Ok(())
                })
                .and_then(|parsed| parsed)?;
            Ok(tasks)
        })
    }

    /// Calls `each` with the id and JSON of every ready task (see
    /// [`Cache::ready_json`]); `each`'s error stops the walk and is returned.
    fn ready_rows<E>(
        &self,
        parent: Option<&str>,
        labels: &[String],
        limit: usize,
        skip: &HashSet<String>,
        mut each: impl FnMut(&str, &str) -> Result<(), E>,
    ) -> Result<Result<(), E>, CacheError> {
        // Skipped rows still count against SQL's LIMIT: ask for enough more.
        let sql_limit = if limit == 0 {
            -1
        } else {
            (limit + skip.len()) as i64
        };
        let mut query = String::new();
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(parent) = parent {
            values.push(parent.to_string().into());
            query.push_str(
                "WITH RECURSIVE below(id) AS (
                   SELECT id FROM tasks WHERE parent = ?1
                   UNION SELECT t.id FROM tasks t JOIN below b ON t.parent = b.id) ",
            );
        }
        query.push_str("SELECT id, json FROM tasks WHERE ready = 1");
        if parent.is_some() {
            query.push_str(" AND id IN below");
        }
        // Deferred until later, or not work (beads' gates, messages, ...)
        // unless the config offers those too.
        values.push(self.offer.now.into());
        query.push_str(&format!(
            " AND (defer_until IS NULL OR defer_until <= ?{})",
            values.len()
        ));
        values.push(self.offer.all_types.into());
        query.push_str(&format!(" AND (non_work = 0 OR ?{})", values.len()));
        for label in labels {
            values.push(label.clone().into());
            query.push_str(&format!(
                " AND id IN (SELECT id FROM labels WHERE label = ?{})",
                values.len()
            ));
        }
        values.push(sql_limit.into());
        query.push_str(&format!(
            " ORDER BY priority, created, id LIMIT ?{}",
            values.len()
        ));
        let mut stmt = self.conn.prepare_cached(&query).map_err(self.sql())?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(values))
            .map_err(self.sql())?;
        let mut given = 0;
        while let Some(row) = rows.next().map_err(self.sql())? {
            if limit != 0 && given == limit {
                break;
            }
            let id: &str = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_str()?))
                .map_err(self.sql())?;
            if skip.contains(id) {
                continue;
            }
            let json: &str = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_str()?))
                .map_err(self.sql())?;
            given += 1;
            if let Err(e) = each(id, json) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// The tasks `list` shows, in priority order.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<Task>, CacheError> {
        let mut query = String::from("SELECT id, json FROM tasks t WHERE 1=1");
        let mut args: Vec<String> = Vec::new();
        if !filter.statuses.is_empty() {
            let marks: Vec<String> = filter
                .statuses
                .iter()
                .map(|s| {
                    args.push(s.as_str().to_string());
                    format!("?{}", args.len())
                })
                .collect();
            query.push_str(&format!(" AND status IN ({})", marks.join(",")));
        } else if !filter.all {
            query.push_str(" AND status != 'closed'");
        }
        if let Some(parent) = &filter.parent {
            args.push(parent.clone());
            query.push_str(&format!(" AND parent = ?{}", args.len()));
        }
        if let Some(label) = &filter.label {
            args.push(label.clone());
            query.push_str(&format!(
                " AND id IN (SELECT id FROM labels WHERE label = ?{})",
                args.len()
            ));
        }
        query.push_str(" ORDER BY priority, created, id");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.tasks_where(&query, &args)
    }

    /// The tasks of `query`, which selects `id, json`.
    fn tasks_where(&self, query: &str, args: &[&str]) -> Result<Vec<Task>, CacheError> {
        self.repairing(|cache| {
            let mut stmt = cache.conn.prepare_cached(query).map_err(cache.sql())?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args), |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(cache.sql())?;
            let mut out = Vec::new();
            for row in rows {
                let (id, json) = row.map_err(cache.sql())?;
                out.push(cache.parse_row(&id, "json", &json)?);
            }
            Ok(out)
        })
    }

    /// One column of task `id`'s row, parsed.
    fn parse_row<T: serde::de::DeserializeOwned>(
        &self,
        id: &str,
        column: &'static str,
        text: &str,
    ) -> Result<T, CacheError> {
        serde_json::from_str(text).map_err(|source| CacheError::BadRow {
            path: self.path.clone(),
            id: id.to_string(),
            column,
            source: source.into(),
        })
    }

    /// One task, if its file exists and parses.
    pub fn get(&self, id: &str) -> Result<Option<Task>, CacheError> {
        Ok(self
            .tasks_where("SELECT id, json FROM tasks WHERE id = ?1", &[id])?
            .pop())
    }

    /// The direct children of `id`, in priority order.
    pub fn children(&self, id: &str) -> Result<Vec<Task>, CacheError> {
        self.tasks_where(
            "SELECT id, json FROM tasks WHERE parent = ?1 ORDER BY priority, created, id",
            &[id],
        )
    }

    /// Every task below `id` (children, their children, ...), depth first,
    /// each level in priority order; each task once, even when the parent
    /// links of hand-edited files loop.
    pub fn descendants(&self, id: &str) -> Result<Vec<Task>, CacheError> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::from([id.to_string()]);
        let mut stack = vec![id.to_string()];
        while let Some(id) = stack.pop() {
            for child in self.children(&id)? {
                if seen.insert(child.id.to_string()) {
                    stack.push(child.id.to_string());
                    out.push(child);
                }
            }
        }
        Ok(out)
    }

    /// Every task that is not closed and has at least one blocker.
    pub fn blocked(&self) -> Result<Vec<(Task, Vec<Blocker>)>, CacheError> {
        self.repairing(|cache| {
            let mut stmt = cache
                .conn
                .prepare_cached(
                    "SELECT id, json, blocked_by FROM tasks
                     WHERE status != 'closed' AND blocked_by != '[]'
                     ORDER BY priority, created, id",
                )
                .map_err(cache.sql())?;
            let rows = stmt
                .query_map([], |r| <(String, String, String)>::try_from(r))
                .map_err(cache.sql())?;
            let mut out = Vec::new();
            for row in rows {
                let (id, json, blockers) = row.map_err(cache.sql())?;
                out.push((
                    cache.parse_row(&id, "json", &json)?,
                    cache.parse_row(&id, "blocked_by", &blockers)?,
                ));
            }
            Ok(out)
        })
    }

    /// What keeps `id` from being ready (empty when nothing does).
    pub fn blockers_of(&self, id: &str) -> Result<Vec<Blocker>, CacheError> {
        self.repairing(|cache| {
            let json: Option<String> = cache
                .conn
                .query_row("SELECT blocked_by FROM tasks WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(cache.sql())?;
            json.map_or(Ok(Vec::new()), |j| cache.parse_row(id, "blocked_by", &j))
        })
    }

    /// The graph of every readable task.
    pub fn nodes(&self) -> Result<Vec<Node>, CacheError> {
        self.repairing(|cache| rows::load_nodes(&cache.conn, &cache.path))
    }

    /// How many readable tasks there are.
    pub fn count(&self) -> Result<usize, CacheError> {
        self.conn
            .query_row("SELECT count(*) FROM tasks", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(self.sql())
    }
}
