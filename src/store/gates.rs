//! Gate definitions (see [`crate::work::gates`]): a name, a command and
//! whether it blocks, as the command line, a plan's `[[gates]]` or the
//! config's `[[gates]]` give them; all of them people's files on the main
//! branch, never anything a worker's branch says.

use serde::{Deserialize, Serialize};

/// A gate as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub name: String,
    /// Run with `sh -c` in the task's worktree.
    pub command: String,
    /// A failure fails the attempt (retried with the output fed back)
    /// instead of flagging the task for review.
    #[serde(default)]
    pub blocking: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("'{given}' is not NAME=COMMAND")]
    Syntax { given: String },
    #[error("gate name '{name}': use letters, digits, '-' and '_'")]
    Name { name: String },
    #[error("two gates are named '{name}'")]
    Twice { name: String },
}

impl Gate {
    /// `NAME=COMMAND` from the command line.
    pub fn parse(text: &str, blocking: bool) -> Result<Gate, GateError> {
        let Some((name, command)) = text.split_once('=') else {
            return Err(GateError::Syntax {
                given: text.to_string(),
            });
        };
        let gate = Gate {
            name: name.trim().to_string(),
            command: command.to_string(),
            blocking,
        };
        if gate.command.trim().is_empty() {
            return Err(GateError::Syntax {
                given: text.to_string(),
            });
        }
        check_name(&gate.name)?;
        Ok(gate)
    }
}

/// Whether `name` can name a gate (it names a log file too).
pub fn check_name(name: &str) -> Result<(), GateError> {
    let fits = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fits {
        Ok(())
    } else {
        Err(GateError::Name {
            name: name.to_string(),
        })
    }
}

/// The gates that apply: those given on the command line, else the plan's,
/// else the config's. Names must be distinct.
pub fn choose(flags: Vec<Gate>, plan: &[Gate], config: &[Gate]) -> Result<Vec<Gate>, GateError> {
    let gates = if !flags.is_empty() {
        flags
    } else if !plan.is_empty() {
        plan.to_vec()
    } else {
        config.to_vec()
    };
    for (i, g) in gates.iter().enumerate() {
        check_name(&g.name)?;
        if gates[..i].iter().any(|o| o.name == g.name) {
            return Err(GateError::Twice {
                name: g.name.clone(),
            });
        }
    }
    Ok(gates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_flags_parse_and_names_are_checked() {
        let g = Gate::parse("lint=cargo clippy -- -D warnings", false).unwrap();
        assert_eq!(g.name, "lint");
        assert_eq!(g.command, "cargo clippy -- -D warnings");
        assert!(Gate::parse("lint", false).is_err());
        assert!(Gate::parse("lint=", false).is_err());
        assert!(Gate::parse("a/b=x", false).is_err());
        let twice = choose(vec![g.clone(), g], &[], &[]);
        assert!(matches!(twice, Err(GateError::Twice { .. })));
    }
}
