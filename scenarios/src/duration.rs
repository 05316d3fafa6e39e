//! Human durations in scenario files: `"250ms"`, `"2s"`, `"1.5s"`, `"5m"`, `"1h"`, and
//! compounds from the largest unit down, as Go and systemd write them: `"1m30s"`, `"2h15m"`.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use sim_core::SimDuration;

/// A duration written as a decimal number and a unit: `ns`, `us` (or `µs`), `ms`, `s`, `m`,
/// `h`. Decimals are exact (parsed as integers), and must not be finer than a nanosecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub SimDuration);

const EXPECTED: &str = "a duration such as \"250ms\", \"1.5s\" or \"5m\" (units: ns, us, ms, s, m, h; compounds such as \"1m30s\")";

/// Parses a human duration; the error says what was expected.
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!(
            "\"{text}\" is negative; a duration is at least 0, such as \"250ms\" or \"1.5s\""
        ));
    }
    let parts = split_compound(text);
    if parts.len() < 2 {
        return parse_one(text);
    }
    let mut total = SimDuration(0);
    let mut previous_scale = u64::MAX;
    for part in parts {
        let value = parse_one(part)?;
        // A compound is read from the largest unit down, each unit once: "1m30s", not "30s1m".
        let scale = unit_scale(part);
        if scale >= previous_scale {
            return Err(format!(
                "\"{text}\" repeats a unit or puts a smaller one first; write a compound from the largest unit down, such as \"1m30s\""
            ));
        }
        previous_scale = scale;
        total = SimDuration(total.0.checked_add(value.0).ok_or_else(|| {
            format!("\"{text}\" is too long; the longest duration is about 584 years")
        })?);
    }
    Ok(total)
}

/// Splits `"1h2m3.5s"` into `["1h", "2m", "3.5s"]`: a new part starts where a digit follows a
/// unit letter.
fn split_compound(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_unit = false;
    for (i, c) in text.char_indices() {
        let numeric = c.is_ascii_digit() || c == '.';
        if numeric && in_unit {
            parts.push(&text[start..i]);
            start = i;
        }
        in_unit = !numeric;
    }
    parts.push(&text[start..]);
    parts
}

/// The nanoseconds of a part's unit, for ordering the parts of a compound (0 if unknown, which
/// `parse_one` has already refused).
fn unit_scale(part: &str) -> u64 {
    let unit = part.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => 0,
    }
}

/// One number and one unit.
fn parse_one(text: &str) -> Result<SimDuration, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("\"{text}\" has no unit; expected {EXPECTED}"))?;
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => {
            return Err(format!(
                "unknown unit \"{unit}\" in \"{text}\"; expected {EXPECTED}"
            ));
        }
    };
    let bad = || format!("\"{text}\" is not a number with a unit; expected {EXPECTED}");
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let too_big = || format!("\"{text}\" is too long; the longest duration is about 584 years");
    let mut ns = whole.checked_mul(scale).ok_or_else(too_big)?;
    if !fraction.is_empty() {
        if fraction.len() > 18 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let digits: u64 = fraction.parse().map_err(|_| bad())?;
        let denominator = 10u64.pow(fraction.len() as u32);
        let numerator = u128::from(digits) * u128::from(scale);
        if numerator % u128::from(denominator) != 0 {
            return Err(format!(
                "\"{text}\" is finer than a nanosecond; faultline's clock counts whole nanoseconds"
            ));
        }
        let extra = u64::try_from(numerator / u128::from(denominator)).map_err(|_| too_big())?;
        ns = ns.checked_add(extra).ok_or_else(too_big)?;
    }
    Ok(SimDuration(ns))
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                parse_duration(v).map(Duration).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A duration that may be negative (a clock step back): `"-2s"`, `"150ms"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedDuration(pub i64);

impl<'de> Deserialize<'de> for SignedDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SignedDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{EXPECTED}, optionally with a minus sign")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SignedDuration, E> {
                let (negative, rest) = match v.trim().strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, v),
                };
                let d = parse_duration(rest).map_err(E::custom)?;
                let n = i64::try_from(d.as_nanos())
                    .map_err(|_| E::custom(format!("\"{v}\" is too long")))?;
                Ok(SignedDuration(if negative { -n } else { n }))
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_exact_decimals() {
        let ok = [
            ("250ms", 250_000_000),
            ("2s", 2_000_000_000),
            ("1.5s", 1_500_000_000),
            ("5m", 300_000_000_000),
            ("1h", 3_600_000_000_000),
            ("10ns", 10),
            ("0.001ms", 1_000),
            ("7us", 7_000),
            (".5s", 500_000_000),
            ("0s", 0),
            ("1m30s", 90_000_000_000),
            ("2h15m", 8_100_000_000_000),
            ("1h2m3.5s", 3_723_500_000_000),
            ("1s250ms", 1_250_000_000),
        ];
        for (text, ns) in ok {
            assert_eq!(parse_duration(text), Ok(SimDuration(ns)), "{text}");
        }
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for text in [
            "",
            "5",
            "ms",
            "5 parsecs",
            "1.2.3s",
            "0.5ns",
            "-1s",
            "99999999999999h",
            "1e3ms",
            "30s1m",
            "1s1s",
            "1m30",
            "1m-30s",
        ] {
            let err = parse_duration(text).expect_err(text);
            assert!(!err.is_empty());
        }
    }
}
