//! `git batch gate`: run gates on finished work after the run, and the
//! `--gate` / `--blocking-gate` flags `run` and `plan` share.

use super::WorkerArgs;
use crate::commands::Ctx;
use crate::error::{CommandError, Exit};
use crate::plan::Plan;
use crate::store::gates::Gate;
use crate::task::review::GateResult;

/// Gates named on the command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GateArgs {
    /// A gate: `NAME=CMD`, run with `sh -c` in each task's worktree once its
    /// work is finished; a failure flags the task for review. Repeatable.
    #[arg(long = "gate", value_name = "NAME=CMD")]
    pub gates: Vec<String>,
    /// A gate whose failure fails the attempt (retried with its output fed
    /// back, then failed). Repeatable.
    #[arg(long = "blocking-gate", value_name = "NAME=CMD")]
    pub blocking: Vec<String>,
}

impl GateArgs {
    /// The gates the flags name (a usage error when one does not parse).
    pub fn parse(&self) -> Result<Vec<Gate>, CommandError> {
        let flag = |blocking: bool| {
            move |text: &String| {
                Gate::parse(text, blocking).map_err(|e| {
                    let name = if blocking {
                        "--blocking-gate"
                    } else {
                        "--gate"
                    };
                    CommandError::usage(format!("{name}: {e}"))
                })
            }
        };
        let mut out: Vec<Gate> = self
            .gates
            .iter()
            .map(flag(false))
            .collect::<Result<_, _>>()?;
        for g in self.blocking.iter().map(flag(true)) {
            out.push(g?);
        }
        crate::store::gates::choose(out, &[], &[]).map_err(|e| CommandError::usage(e.to_string()))
    }

    /// The flags' gates, else the plan's, else the config's.
    pub fn chosen(
        &self,
        store: &crate::store::Store,
        plan: Option<&Plan>,
    ) -> Result<Vec<Gate>, CommandError> {
        let plan_gates = plan.map(|p| &p.gates[..]).unwrap_or_default();
        crate::store::gates::choose(self.parse()?, plan_gates, &store.config.gates)
            .map_err(|e| CommandError::user(e.to_string()))
    }
}

/// Run gates on finished work now: each task's in its worktree (or at its
/// branch tip), each result recorded in its live state as `run --gate`
/// records it. The gates are the flags', else the plan's `[[gates]]`, else
/// the config's.
///
/// Exit 1 when a blocking gate failed (that task is recorded failed, with
/// the gate's output as the reason).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tasks (default: the plan's finished ones).
    #[arg(conflicts_with = "plan", required_unless_present = "plan")]
    pub ids: Vec<String>,
    /// The finished tasks of this plan.
    #[arg(long, value_name = "NAME")]
    pub plan: Option<String>,
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

#[derive(serde::Serialize)]
struct Gated {
    id: String,
    /// No finished work to judge (no branch here or shared).
    skipped: bool,
    gates: Vec<GateResult>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let plan = match &args.plan {
        Some(name) => Some(Plan::read(&store, name)?),
        None => None,
    };
    let gates = args.gates.chosen(&store, plan.as_ref())?;
    if gates.is_empty() {
        return Err(CommandError::usage(
            "no gates: give --gate NAME=CMD, or add [[gates]] to the plan or the config",
        ));
    }
    let ids = match &plan {
        Some(p) => p.ids(),
        None => {
            for id in &args.ids {
                ctx.check_exists(&store, id)?;
            }
            args.ids.clone()
        }
    };
    let who = args.worker.person(&store)?;
    let set = crate::claims::read(&store.repo)?;
    let mut out = Vec::new();
    let mut blocked = Vec::new();
    for id in ids {
        // Only work in flight that finished: a plan's landed or running
        // tasks are not judged again here.
        let finished = set
            .live
            .get(&id)
            .is_some_and(|l| l.state == crate::claims::live::Outcome::Done);
        if !finished {
            if args.plan.is_none() {
                ctx.ui
                    .warn(format!("{id} is not finished (done, not landed): skipped"));
            }
            continue;
        }
        let Some(results) = crate::work::gates::run_on_work(&store, &id, &gates)? else {
            out.push(Gated {
                id,
                skipped: true,
                gates: Vec::new(),
            });
            continue;
        };
        crate::work::live::record_gates(&store, &id, &who, &results)?;
        if let Some(reason) = crate::work::gates::blocking_failure(&results) {
            let ending = crate::work::live::Ending {
                reason: Some(reason),
                release: true,
                ..Default::default()
            };
            let failed = crate::claims::live::Outcome::Failed;
            crate::work::live::record(&store, &id, &who, failed, &ending)?;
            blocked.push(id.clone());
        }
        out.push(Gated {
            id,
            skipped: false,
            gates: results,
        });
    }
    if ctx.ui.json {
        ctx.ui.json_value(&out)?;
    } else {
        for g in &out {
            if g.skipped {
                ctx.ui.line(format!("{}  no work to judge here", g.id))?;
            }
            for r in &g.gates {
                ctx.ui.line(format!("{}  {}", g.id, describe(r)))?;
            }
        }
    }
    if !blocked.is_empty() {
        return Err(CommandError::new(
            Exit::User,
            crate::error::Message(format!(
                "a blocking gate failed on {}: recorded failed",
                blocked.join(", ")
            )),
        ));
    }
    Ok(())
}

/// One gate's result on one line: `lint passed (score 87, 1.2s)`.
pub fn describe(r: &GateResult) -> String {
    let verdict = if r.passed { "passed" } else { "failed" };
    let mut facts = Vec::new();
    if let Some(s) = r.score() {
        facts.push(format!("score {s}"));
    }
    if r.security() > 0 {
        facts.push(format!("{} security finding(s)", r.security()));
    }
    if !r.passed {
        facts.push(
            r.exit_code
                .map_or("no exit code".into(), |c| format!("exit {c}")),
        );
    }
    facts.push(format!("{:.1}s", r.seconds));
    format!("{} {verdict} ({})", r.name, facts.join(", "))
}
