//! Dates without a date library: publication dates are stored as Unix
//! seconds, and these helpers convert the few textual forms sources use.

use crate::CoreError;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD` of a Unix timestamp (UTC).
pub fn format_date(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 (`YYYY-MM-DDTHH:MM:SSZ`) of a Unix timestamp (UTC).
pub fn format_datetime(secs: i64) -> String {
    let t = secs.rem_euclid(86_400);
    format!("{}T{:02}:{:02}:{:02}Z", format_date(secs), t / 3600, t / 60 % 60, t % 60)
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (also with a
/// space instead of `T`) and RFC 2822 dates (`Tue, 04 Feb 2025 10:00:00 GMT`)
/// into Unix seconds. Unparseable input is an error, never a panic.
pub fn parse_date(input: &str) -> Result<i64, CoreError> {
    let s = input.trim().trim_matches(|c| c == '"' || c == '\'');
    let bad = || CoreError::BadDate(input.chars().take(64).collect());
    if s.len() >= 10 && s.is_char_boundary(10) && s.as_bytes().get(4) == Some(&b'-') {
        let (date, rest) = s.split_at(10);
        let mut parts = date.split('-');
        let y = parts.next().and_then(num).ok_or_else(bad)?;
        let m = parts.next().and_then(num).ok_or_else(bad)?;
        let d = parts.next().and_then(num).ok_or_else(bad)?;
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return Err(bad());
        }
        let mut secs = days_from_civil(y, m as u32, d as u32) * 86_400;
        let rest = rest.trim_start_matches(['T', 't', ' ']);
        if rest.len() >= 5 && rest.is_char_boundary(5) {
            let (hm, tail) = rest.split_at(5);
            let h = hm.get(..2).and_then(num).ok_or_else(bad)?;
            let mi = hm.get(3..).and_then(num).ok_or_else(bad)?;
            secs += h * 3600 + mi * 60;
            let mut tail = tail;
            if let Some(t) = tail.strip_prefix(':') {
                let sec_len = t.bytes().take_while(u8::is_ascii_digit).count();
                secs += num(&t[..sec_len]).unwrap_or(0);
                tail = &t[sec_len..];
                if let Some(frac) = tail.strip_prefix('.') {
                    let n = frac.bytes().take_while(u8::is_ascii_digit).count();
                    tail = &frac[n..];
                }
            }
            let tail = tail.trim();
            if let Some(sign @ ('+' | '-')) = tail.chars().next() {
                let off = tail[1..].replace(':', "");
                if off.len() == 4 {
                    let oh = off.get(..2).and_then(num).ok_or_else(bad)?;
                    let om = off.get(2..).and_then(num).ok_or_else(bad)?;
                    let o = oh * 3600 + om * 60;
                    secs += if sign == '+' { -o } else { o };
                }
            }
        }
        return Ok(secs);
    }
    parse_rfc2822(s).ok_or_else(bad)
}

fn parse_rfc2822(s: &str) -> Option<i64> {
    let s = s.split_once(',').map_or(s, |(_, r)| r).trim();
    let mut it = s.split_whitespace();
    let d: u32 = it.next()?.parse().ok()?;
    let mon = it.next()?.to_ascii_lowercase();
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let m = MONTHS.iter().position(|x| mon.starts_with(x))? as u32 + 1;
    let y: i64 = it.next()?.parse().ok()?;
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = it.next() {
        let mut hms = t.split(':').map(|x| x.parse::<i64>().unwrap_or(0));
        secs += hms.next().unwrap_or(0) * 3600 + hms.next().unwrap_or(0) * 60 + hms.next().unwrap_or(0);
    }
    if let Some(z) = it.next()
        && let Some(sign @ ('+' | '-')) = z.chars().next()
        && let (Some(oh), Some(om)) = (z.get(1..3).and_then(num), z.get(3..5).and_then(num))
    {
        let o = oh * 3600 + om * 60;
        secs += if sign == '+' { -o } else { o };
    }
    Some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_formats() {
        for days in [-1000, 0, 1, 365, 20_000, 20_500] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(parse_date("2025-02-04").unwrap(), days_from_civil(2025, 2, 4) * 86_400);
    }

    #[test]
    fn parses_offsets_and_rfc2822() {
        let utc = parse_date("2024-10-29T23:59:00Z").unwrap();
        assert_eq!(parse_date("2024-10-29 23:59:00-04:00").unwrap(), utc + 4 * 3600);
        assert_eq!(parse_date("2024-10-29T23:59:00.123+00:00").unwrap(), utc);
        assert_eq!(parse_date("Tue, 29 Oct 2024 23:59:00 GMT").unwrap(), utc);
        assert_eq!(format_date(parse_date("'2025-03-04'").unwrap()), "2025-03-04");
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for s in ["", "yesterday", "2025-13-01", "2025-02-xx", "é2025-02-01", "2025-02-01T1é:00"] {
            assert!(parse_date(s).is_err() || s.starts_with("2025-02-01T"), "{s}");
        }
    }
}
