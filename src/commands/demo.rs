//! `git batch demo`: the whole loop on a scratch repository, in seconds.

use crate::commands::Ctx;
use crate::edit::NewTask;
use crate::error::{CommandError, Exit};
use crate::plan::split::{self, Chunking};
use crate::plan::{NewPlan, RunConfig};
use crate::run::Options;
use crate::sample::{self, DemoRepo, Worked};
use crate::store::Store;
use std::path::PathBuf;
use std::time::Duration;

/// Show the whole loop on a scratch repository: a small project (a book of
/// 8 chapters) with a bare remote is split into 8 scoped tasks, 4 workers
/// run them with a built-in demo worker (it edits the files of its scope,
/// writes receipts, and fails one task once, which the retry fixes), the
/// work is landed in trains as it finishes (each train tested, one push
/// each) while the other workers go on, then `status` and the
/// start of `review` are printed. The scratch directory is kept to look at.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to create it (a new or empty directory; default: a new
    /// directory under the system's temp dir).
    #[arg(value_name = "DIR")]
    pub target: Option<PathBuf>,
    /// Workers at once.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,
    /// How many lines of the review to print.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub review_lines: usize,
}

#[derive(serde::Serialize)]
struct DemoReport {
    repo: DemoRepo,
    run: crate::run::Summary,
    status: crate::report::status::StatusReport,
    review: crate::report::review::Review,
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let dir = args.target.clone().unwrap_or_else(|| {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        std::env::temp_dir().join(format!("git-batch-demo-{}-{stamp}", std::process::id()))
    });
    // The hooks and the workers call `git-batch`: this one, installed or not.
    // SAFETY: no other thread runs yet.
    unsafe { std::env::set_var("PATH", crate::git::program::path_with_self()) };
    ctx.ui.status(format!("demo: setting up {}", dir.display()));
    let repo = sample::setup(&dir).map_err(demo_err)?;
    let mut store = Store::open(&repo.work)?;
    let items: Vec<String> = sample::CHAPTERS
        .iter()
        .map(|(name, _)| format!("docs/{name}.md"))
        .collect();
    let chunks = split::chunk(&items, &Chunking::Size(1))?;
    let base = NewTask {
        acceptance: vec!["the chapter has no TODO left".into()],
        estimate: Some(crate::task::Estimate::S),
        ..NewTask::default()
    };
    let plan = NewPlan {
        name: "book".into(),
        config: RunConfig {
            jobs: args.jobs as u32,
            timeout: Duration::from_secs(120).into(),
            retries: 1,
            test: Some(sample::TEST.into()),
            max_tasks: 0,
            instructions: None,
            reduce: None,
        },
        gates: Vec::new(),
        carry_from: None,
        force: false,
    };
    let made = split::split(
        &mut store,
        &chunks,
        "Write {first}",
        &base,
        true,
        None,
        Some(&plan),
    )?;
    ctx.ui.status(format!(
        "demo: split the book into {} tasks (plan book), one chapter each",
        made.tasks.len()
    ));
    // The chapter the others lean on: first in the morning's review queue
    // (and the one whose worker fails once, so the review shows a retry).
    if let Some(t) = made
        .tasks
        .iter()
        .find(|t| t.scope.iter().any(|s| s.ends_with(sample::FLAKY)))
    {
        let edit = crate::edit::Edit {
            priority: Some(1),
            ..Default::default()
        };
        crate::edit::update(&store, &t.id, edit)?;
    }
    repo.publish().map_err(demo_err)?;
    let exe = std::env::current_exe()?;
    let opts = Options {
        name: "book".into(),
        plan: Some("book".into()),
        follow: crate::run::Follow::Plan,
        instructions: None,
        template: None,
        deadline: None,
        hard_deadline: None,
        max_rate_limits: 5,
        ids: made.tasks.iter().map(|t| t.id.to_string()).collect(),
        labels: Vec::new(),
        exec: format!("{} demo-worker", shell_quote(&exe.to_string_lossy())),
        jobs: args.jobs.max(1),
        timeout: Duration::from_secs(120),
        retries: 1,
        validate: None,
        land: true,
        test: Some(sample::TEST.into()),
        test_from_base: false,
        pause_after: None,
        max_tasks: 0,
        remote: Some("origin".into()),
        worker: format!("demo-worker#{}", crate::run::worker::clone_id(&store)),
        ttl: Duration::from_secs(3600),
        rerun_failed: false,
        gates: Vec::new(),
        stack: false,
        backoff: Duration::from_secs(1),
        sparse: false,
    };
    ctx.ui.status(format!(
        "demo: running {} workers (`git batch run --plan book -j {} --land --test '{}'`)",
        opts.jobs,
        opts.jobs,
        sample::TEST
    ));
    let summary = super::run::run_with_progress(ctx, &store, &opts)?;
    let status = crate::report::status::status(&store, Some("book"))?;
    let review = crate::report::review::review_plan(&store, "book", false)?;
    if ctx.ui.json {
        ctx.ui.json_value(&DemoReport {
            repo: repo.clone(),
            run: summary,
            status,
            review,
        })?;
        return Ok(());
    }
    ctx.ui.line("$ git batch status")?;
    for v in &status.plans {
        for line in super::status::render(v, Some(80)) {
            ctx.ui.line(line)?;
        }
    }
    ctx.ui.line("")?;
    ctx.ui.line("$ git batch review | head")?;
    let lines = super::review::render(&review);
    for line in lines.iter().take(args.review_lines) {
        ctx.ui.line(line)?;
    }
    if lines.len() > args.review_lines {
        ctx.ui.line(format!(
            "... ({} more lines)",
            lines.len() - args.review_lines
        ))?;
    }
    ctx.ui.line("")?;
    let landings = landings(&store);
    ctx.ui.line(format!(
        "Landed {} task(s) in {landings} landing(s) while the workers went on;\n\
         each landing ran the tests (`{}`) once and pushed once.",
        summary.landed.len(),
        sample::TEST
    ))?;
    ctx.ui.line(format!(
        "The demo's repository is {} (its remote: {}).\nLook around: git -C {} log --oneline --graph; git batch -C {} review --patch",
        repo.work.display(),
        repo.remote.display(),
        repo.work.display(),
        repo.work.display()
    ))?;
    if summary.done + summary.elsewhere < summary.total || summary.landed.len() < summary.total {
        return Err(CommandError::user(format!(
            "the demo did not finish: {} of {} tasks landed",
            summary.landed.len(),
            summary.total
        )));
    }
    Ok(())
}

/// How many landing commits the main branch has (one per train: one
/// test run and one push each).
fn landings(store: &crate::store::Store) -> usize {
    let main = crate::git::refs::branch(&store.config.main_branch);
    let Ok(mut walk) = store.repo.revwalk() else {
        return 0;
    };
    if walk.push_ref(&main).is_err() {
        return 0;
    }
    walk.flatten()
        .filter_map(|oid| store.repo.find_commit(oid).ok())
        .filter(|c| {
            c.summary()
                .ok()
                .flatten()
                .is_some_and(|s| s.starts_with("batch: land"))
        })
        .count()
}

fn demo_err(e: sample::DemoError) -> CommandError {
    match e {
        sample::DemoError::Store(s) => s.into(),
        sample::DemoError::Git(g) => g.into(),
        sample::DemoError::Guard(g) => g.into(),
        sample::DemoError::Work(w) => w.into(),
        sample::DemoError::NotEmpty { .. } => {
            CommandError::new(Exit::User, e).hint("give a new directory, or leave DIR out")
        }
        sample::DemoError::NotInRun | sample::DemoError::Io { .. } => {
            CommandError::new(Exit::User, e)
        }
    }
}

/// `git batch demo-worker`: the built-in worker the demo runs.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {}

pub fn run_worker(ctx: &mut Ctx, _args: WorkerArgs) -> Result<(), CommandError> {
    let store = ctx.store()?;
    match sample::worker(&store).map_err(demo_err)? {
        Worked::Done { files } => {
            ctx.ui
                .status(format!("demo worker: wrote {files} chapter(s)"));
            Ok(())
        }
        Worked::FailedOnPurpose => Err(CommandError::user(
            "demo worker: failing this first attempt on purpose (the retry succeeds)",
        )),
    }
}
