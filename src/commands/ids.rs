//! Task ids as people type them: every id argument of every command is
//! read as bd and br read ids, a unique prefix naming its task
//! ([`crate::store::Store::resolve_id`]), before the command runs.

use super::Command;
use crate::error::CommandError;
use crate::store::Store;

/// Replaces each id argument of `cmd` that is the unique start of a task id
/// with that id. Commands outside a repository, and ids no task matches,
/// are left for the command to report as it does.
pub fn resolve(dir: &std::path::Path, cmd: &mut Command) -> Result<(), CommandError> {
    let ids = id_args(cmd);
    if ids.is_empty() {
        return Ok(());
    }
    let Ok(store) = Store::open(dir) else {
        return Ok(());
    };
    for id in ids {
        if let Some(full) = store.resolve_id(id)? {
            *id = full;
        }
    }
    Ok(())
}

/// The arguments of `cmd` that name tasks.
fn id_args(cmd: &mut Command) -> Vec<&mut String> {
    fn all<'a>(
        one: impl IntoIterator<Item = &'a mut String>,
        more: impl IntoIterator<Item = &'a mut String>,
    ) -> Vec<&'a mut String> {
        one.into_iter().chain(more).collect()
    }
    use super::dep::{DepCommand, Edge};
    match cmd {
        Command::Show(a) => vec![&mut a.id],
        Command::Update(a) => all([&mut a.id], a.parent.as_mut()),
        Command::Close(a) => a.ids.iter_mut().collect(),
        Command::Reopen(a) => a.ids.iter_mut().collect(),
        Command::Retry(a) => a.ids.iter_mut().collect(),
        Command::Note(a) => vec![&mut a.id],
        Command::Answer(a) => vec![&mut a.id],
        Command::Release(a) => vec![&mut a.id],
        Command::Abandon(a) => vec![&mut a.id],
        Command::Create(a) => all(
            a.parent.as_mut(),
            a.deps
                .iter_mut()
                .chain(&mut a.related)
                .chain(&mut a.discovered_from),
        ),
        Command::Dep(DepCommand::Add(Edge { id, blocker, .. }))
        | Command::Dep(DepCommand::Rm(Edge { id, blocker, .. })) => vec![id, blocker],
        Command::Dep(DepCommand::Tree { id }) => vec![id],
        Command::Claim(a) => all(a.target.id.as_mut(), a.target.parent.as_mut()),
        Command::Start(a) => all(a.target.id.as_mut(), a.target.parent.as_mut()),
        Command::Done(a) => a.id.as_mut().into_iter().collect(),
        Command::Fail(a) | Command::Escalate(a) => a.id.as_mut().into_iter().collect(),
        Command::Split(a) => a.parent.as_mut().into_iter().collect(),
        Command::Receipts(a) => a.id.as_mut().into_iter().collect(),
        Command::Ready(a) => a.parent.as_mut().into_iter().collect(),
        Command::List(a) => a.parent.as_mut().into_iter().collect(),
        Command::Land(a) => all(&mut a.ids, a.parent.as_mut()),
        Command::Plan(a) => all(&mut a.ids, a.parent.as_mut()),
        Command::Run(a) => a.ids.iter_mut().collect(),
        Command::Check(a) => all(&mut a.ids, a.parent.as_mut()),
        _ => Vec::new(),
    }
}
