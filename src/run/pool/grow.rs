//! Work that appears during a run: with `--ready`, tasks that became ready
//! (children a worker created, landed; tasks a person created and pushed;
//! dependents of what landed); with `--plan`, tasks added to the plan. The
//! running `run` takes them on without a restart.

use super::*;

impl Pool<'_> {
    /// Adds the new work to the run's order; how many tasks it added.
    pub(super) fn grow(
        &mut self,
        state: &mut RunState,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<usize, RunError> {
        let found: Vec<String> = match self.opts.follow {
            Follow::Fixed => return Ok(0),
            Follow::Ready => {
                let (cache, _) = self.store.cache()?;
                let taken: std::collections::HashSet<String> =
                    claims::taken_ids(&self.store.repo)?.into_iter().collect();
                cache
                    .ready(None, &self.opts.labels, 0, &taken)
                    .map_err(StoreError::from)?
                    .into_iter()
                    .map(|t| t.id.to_string())
                    .collect()
            }
            Follow::Plan => match &self.opts.plan {
                Some(name) => match crate::plan::Plan::read(self.store, name) {
                    Ok(plan) => plan.ids(),
                    Err(_) => return Ok(0),
                },
                None => return Ok(0),
            },
        };
        let mut added = 0;
        for id in found {
            if state.tasks.contains_key(&id) {
                continue;
            }
            state.tasks.entry(id.clone()).or_default();
            state.order.push(id.clone());
            added += 1;
            self.dirty = true;
            self.event(
                state,
                on_event,
                EventKind::Found,
                Some(&id),
                "new work".into(),
            );
        }
        Ok(added)
    }
}
