//! RFC 3339 formatting of tar modification times, without pulling in a date crate.

use crate::tar_header::Mtime;

/// Formats `t` as UTC RFC 3339 the way Go's `time.Time` marshals to JSON (which is what the
/// deployments service stores): `2023-11-14T22:13:20Z`, with a fraction only when non-zero
/// and trailing zeros trimmed.
pub(crate) fn rfc3339(t: Mtime) -> String {
    let days = t.secs.div_euclid(86_400);
    let secs_of_day = t.secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}");
    if t.nanos > 0 {
        let frac = format!("{:09}", t.nanos);
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (the well-known era-based
/// algorithm: shift the year to start in March so leap days fall at the end).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March-based) year
    let mp = (5 * doy + 2) / 153; // March-based month
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, nanos: u32) -> String {
        rfc3339(Mtime { secs, nanos })
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_700_000_000, 0), "2023-11-14T22:13:20Z");
        assert_eq!(at(951_782_400, 0), "2000-02-29T00:00:00Z");
        assert_eq!(at(4_107_542_399, 0), "2100-02-28T23:59:59Z");
        assert_eq!(at(-1, 0), "1969-12-31T23:59:59Z");
        assert_eq!(at(1_700_000_000, 120_000_000), "2023-11-14T22:13:20.12Z");
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let _ = at(i64::MAX, 999_999_999);
        let _ = at(i64::MIN, 0);
    }
}
