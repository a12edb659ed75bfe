//! How a run is set up, resolved in one place: a flag wins over the plan's
//! `[config]`, which wins over `.batch/config.toml`, which has the built-in
//! defaults for what it leaves out (they are filled in when it is read).
//! Claims take their TTL from the flag, else the config.
//!
//! The plan and the config were checked when they were read; only the flags
//! can still be wrong here, and such an error names the flag.

use super::config::Config;
use super::config::RunConfig;
use super::duration::{DurationError, HumanDuration};

/// What was given on the command line (`None`: not given).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub jobs: Option<u32>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub test: Option<String>,
    pub max_tasks: Option<u32>,
    pub ttl: Option<String>,
}

/// The settings in force, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Workers at once (at least 1).
    pub jobs: u32,
    /// Per attempt.
    pub timeout: HumanDuration,
    /// Attempts after a failed one.
    pub retries: u32,
    /// What the landing runs.
    pub test: Option<String>,
    /// At most this many tasks are started (0: all).
    pub max_tasks: u32,
    /// How long a new or renewed claim lives.
    pub claim_ttl: HumanDuration,
}

/// A flag with a value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{flag}: {source}")]
    Duration {
        flag: &'static str,
        #[source]
        source: DurationError,
    },
    #[error("{flag} must be at least 1")]
    Zero { flag: &'static str },
}

fn duration(
    flag: &'static str,
    text: Option<&str>,
) -> Result<Option<HumanDuration>, SettingsError> {
    text.map(|t| HumanDuration::parse(t).map_err(|source| SettingsError::Duration { flag, source }))
        .transpose()
}

impl Settings {
    /// Flag, else the plan's value, else the config's.
    pub fn resolve(
        flags: &Flags,
        plan: Option<&RunConfig>,
        config: &Config,
    ) -> Result<Settings, SettingsError> {
        let w = &config.workers;
        if flags.jobs == Some(0) {
            return Err(SettingsError::Zero { flag: "--jobs" });
        }
        let timeout = duration("--timeout", flags.timeout.as_deref())?;
        let claim_ttl = duration("--ttl", flags.ttl.as_deref())?;
        Ok(Settings {
            jobs: flags.jobs.or(plan.map(|p| p.jobs)).unwrap_or(w.jobs),
            timeout: timeout
                .or_else(|| plan.map(|p| p.timeout.clone()))
                .unwrap_or_else(|| w.timeout.clone()),
            retries: flags
                .retries
                .or(plan.map(|p| p.retries))
                .unwrap_or(w.retries),
            test: flags
                .test
                .clone()
                .or_else(|| plan.and_then(|p| p.test.clone()))
                .or_else(|| config.test_command.clone()),
            max_tasks: flags.max_tasks.or(plan.map(|p| p.max_tasks)).unwrap_or(0),
            claim_ttl: claim_ttl.unwrap_or_else(|| w.claim_ttl.clone()),
        })
    }

    /// The `[config]` of a new plan made with these settings.
    pub fn run_config(&self) -> RunConfig {
        RunConfig {
            jobs: self.jobs,
            timeout: self.timeout.clone(),
            retries: self.retries,
            test: self.test.clone(),
            max_tasks: self.max_tasks,
            instructions: None,
            reduce: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut c = Config::new("bt".into(), "main".into(), None);
        c.workers.jobs = 3;
        c.test_command = Some("make test".into());
        c
    }

    #[test]
    fn flag_over_plan_over_config() {
        let c = config();
        let s = Settings::resolve(&Flags::default(), None, &c).unwrap();
        assert_eq!((s.jobs, s.timeout.as_str(), s.retries), (3, "30m", 1));
        assert_eq!(s.test.as_deref(), Some("make test"));
        assert_eq!((s.max_tasks, s.claim_ttl.as_str()), (0, "2h"));

        let plan = RunConfig {
            jobs: 2,
            timeout: HumanDuration::parse("5m").unwrap(),
            retries: 0,
            test: Some("plan test".into()),
            max_tasks: 7,
            instructions: None,
            reduce: None,
        };
        let s = Settings::resolve(&Flags::default(), Some(&plan), &c).unwrap();
        assert_eq!(s.run_config(), plan);

        let flags = Flags {
            jobs: Some(9),
            timeout: Some("1h".into()),
            retries: Some(4),
            test: Some("flag test".into()),
            max_tasks: Some(1),
            ttl: Some("10m".into()),
        };
        let s = Settings::resolve(&flags, Some(&plan), &c).unwrap();
        assert_eq!((s.jobs, s.timeout.as_str(), s.retries), (9, "1h", 4));
        assert_eq!(s.test.as_deref(), Some("flag test"));
        assert_eq!((s.max_tasks, s.claim_ttl.as_str()), (1, "10m"));
    }

    #[test]
    fn a_bad_flag_names_the_flag() {
        let c = config();
        let bad = |flags: Flags| Settings::resolve(&flags, None, &c).unwrap_err().to_string();
        assert_eq!(
            bad(Flags {
                timeout: Some("abc".into()),
                ..Flags::default()
            }),
            "--timeout: 'abc' is not a duration (expected e.g. 30m, 2h)"
        );
        assert!(
            bad(Flags {
                ttl: Some("soon".into()),
                ..Flags::default()
            })
            .starts_with("--ttl: ")
        );
        assert_eq!(
            bad(Flags {
                jobs: Some(0),
                ..Flags::default()
            }),
            "--jobs must be at least 1"
        );
    }
}
