//! Byte sizes in scenario files: `"2GiB"`, `"512MiB"`, `"1.5GB"`, or a whole number of bytes.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A number of bytes, written with a unit (`B`, `KiB`, `MiB`, `GiB`, `TiB`, or `kB`, `MB`,
/// `GB`, `TB`) or as a whole number of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

const EXPECTED: &str = "a size such as \"2GiB\", \"512MiB\" or \"1.5GB\" (units: B, KiB, MiB, \
                        GiB, TiB, kB, MB, GB, TB)";

impl ByteSize {
    pub const GIB: u64 = 1 << 30;
}

impl fmt::Display for ByteSize {
    /// In the largest binary unit it reaches, one decimal: `2.0 GiB`, `512.0 MiB`, `900 B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [
            ("TiB", 1u64 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ];
        for (unit, scale) in units {
            if self.0 >= scale {
                return write!(f, "{:.1} {unit}", self.0 as f64 / scale as f64);
            }
        }
        write!(f, "{} B", self.0)
    }
}

/// Parses a size; the error says what was expected.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return Err(format!("\"{text}\" is not a size; expected {EXPECTED}")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a size; expected {EXPECTED}"))?;
    let bytes = value * scale as f64;
    if !(bytes.is_finite() && bytes < u64::MAX as f64) {
        return Err(format!("\"{text}\" is too large"));
    }
    Ok(bytes.round() as u64)
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_size(v).map(ByteSize).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("{v} is negative; expected {EXPECTED}")))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_plain_bytes() {
        for (text, bytes) in [
            ("2GiB", 2 << 30),
            ("512 MiB", 512 << 20),
            ("1.5GB", 1_500_000_000),
            ("4096", 4096),
            ("10kB", 10_000),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for text in ["", "GiB", "2 parsecs", "-1GiB", "1e400", "1e300TB"] {
            assert!(parse_size(text).is_err(), "{text}");
        }
        assert_eq!(ByteSize(2 << 30).to_string(), "2.0 GiB");
        assert_eq!(ByteSize(900).to_string(), "900 B");
    }
}
