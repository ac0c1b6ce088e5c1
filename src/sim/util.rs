//! Small helpers shared by the simulator: wall clock, HTTP dates, secrets and seeded hashing.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use rand::distributions::Alphanumeric;

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 7231 date, e.g. `Mon, 13 Jul 2026 12:10:55 GMT` (PVE sends it in `Expires`).
pub(crate) fn http_date(epoch: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// (year, month, day, hour, minute, second) of Unix time `epoch` (UTC, the nodes' time zone).
pub(crate) fn civil(epoch: i64) -> (i64, i64, i64, i64, i64, i64) {
    let (y, m, d) = civil_from_days(epoch.div_euclid(86_400));
    let secs = epoch.rem_euclid(86_400);
    (y, m, d, secs / 3600, secs / 60 % 60, secs % 60)
}

/// `YYYY_MM_DD-HH_MM_SS`, the time stamp in vzdump archive names.
pub(crate) fn vzdump_stamp(epoch: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(epoch);
    format!("{y:04}_{mo:02}_{d:02}-{h:02}_{mi:02}_{s:02}")
}

/// `YYYY-MM-DD HH:MM:SS`, as task logs print times.
pub(crate) fn log_time(epoch: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(epoch);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A random password of `len` ASCII letters and digits.
pub(crate) fn random_password(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A random UUID (version 4 layout), the form PVE uses for API token secrets.
pub(crate) fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::thread_rng().r#gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Compares two secrets without an early exit on the first differing byte.
pub(crate) fn secret_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// SplitMix64 finaliser: a well-mixed 64-bit hash of `x`.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A reproducible number in [0, 1) for (seed, key, salt).
pub(crate) fn unit(seed: u64, key: u64, salt: u64) -> f64 {
    let h = mix(seed ^ mix(key ^ mix(salt)));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // From a recorded PVE answer: Date: Mon, 13 Jul 2026 12:10:55 GMT.
        assert_eq!(http_date(1_783_944_655), "Mon, 13 Jul 2026 12:10:55 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn uuid_shape() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }

    #[test]
    fn unit_is_reproducible_and_in_range() {
        assert_eq!(unit(1, 2, 3), unit(1, 2, 3));
        assert_ne!(unit(1, 2, 3), unit(1, 2, 4));
        assert!((0..1000).all(|i| (0.0..1.0).contains(&unit(7, i, 0))));
    }
}
