//! What the option and device checks share: PVE's refusal of a value, and sizes.

/// A value PVE's schema check refuses: the parameter and its message (answered as 400).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OptionError {
    /// The parameter.
    pub param: String,
    /// PVE's message for it.
    pub message: String,
}

impl OptionError {
    pub(crate) fn new(param: &str, message: impl Into<String>) -> Self {
        Self {
            param: param.to_owned(),
            message: message.into(),
        }
    }
}

/// `32G`, `512M`, `1T`, or bytes without a unit → GiB (rounded up, at least 1).
pub(crate) fn parse_gib(s: &str) -> Option<u64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = num.parse().ok()?;
    let gib = match unit {
        "T" => n * 1024.0,
        "G" => n,
        "M" => n / 1024.0,
        "K" => n / 1024.0 / 1024.0,
        // PVE's `parse_size`: a number without a unit counts bytes.
        "" => n / 1024.0 / 1024.0 / 1024.0,
        _ => return None,
    };
    Some(gib.ceil().max(1.0) as u64)
}
