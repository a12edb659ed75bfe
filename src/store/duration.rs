//! A duration as people write it in `.batch/` files and on the command line
//! (`30m`, `2h`, `1h 30m`): parsed once, when the file is read, and written
//! back with the text it was given so that a file round-trips unchanged.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A parsed duration that remembers how it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanDuration {
    text: String,
    value: Duration,
}

/// A text that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a duration (expected e.g. 30m, 2h)")]
pub struct DurationError {
    pub text: String,
}

impl HumanDuration {
    /// Parses `30m`, `2h`, `1d 12h`, `90s` (surrounding blanks ignored).
    pub fn parse(text: &str) -> Result<HumanDuration, DurationError> {
        match humantime::parse_duration(text.trim()) {
            Ok(value) => Ok(HumanDuration {
                text: text.to_string(),
                value,
            }),
            Err(_) => Err(DurationError {
                text: text.escape_debug().to_string(),
            }),
        }
    }

    pub fn get(&self) -> Duration {
        self.value
    }

    /// The text it was written as.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<Duration> for HumanDuration {
    fn from(value: Duration) -> HumanDuration {
        HumanDuration {
            text: humantime::format_duration(value).to_string(),
            value,
        }
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<HumanDuration, D::Error> {
        let text = String::deserialize(d)?;
        HumanDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_its_text() {
        let d = HumanDuration::parse("1h 30m").unwrap();
        assert_eq!(d.get(), Duration::from_secs(5400));
        assert_eq!(d.as_str(), "1h 30m");
        assert_eq!(
            HumanDuration::from(Duration::from_secs(1800)).as_str(),
            "30m"
        );
        let err = HumanDuration::parse("abc").unwrap_err();
        assert_eq!(
            err.to_string(),
            "'abc' is not a duration (expected e.g. 30m, 2h)"
        );
    }
}
