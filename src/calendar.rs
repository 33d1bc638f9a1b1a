//! Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01),
//! shared by literal parsing, the CSV reader and the date functions.

/// The first day of the supported range, -9999-01-01: dates and times are in years
/// -9999 to 9999 (the CSV reader and literals take 0000 to 9999; arithmetic and time zone
/// offsets may step outside that). A value beyond the range is an error where it is made
/// ([`in_range`]); the functions here never overflow on any `i64`, but beyond the range
/// their results mean nothing.
pub const MIN_DAY: i64 = -4_371_587;
/// The last day of the supported range, 9999-12-31.
pub const MAX_DAY: i64 = 2_932_896;

/// Whether a day number is in the supported range.
pub fn in_range(days: i64) -> bool {
    (MIN_DAY..=MAX_DAY).contains(&days)
}

/// Whether `x`, a date (days) or a time (seconds, when `is_time`), is in the supported range.
#[allow(clippy::cast_precision_loss)]
pub fn value_in_range(x: f64, is_time: bool) -> bool {
    let days = if is_time { x / 86_400.0 } else { x };
    days.is_nan() || (MIN_DAY as f64 <= days && days < (MAX_DAY + 1) as f64)
}

/// A day number forced into the supported range, so that nothing overflows.
fn clamp(days: i64) -> i64 {
    days.clamp(MIN_DAY, MAX_DAY)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day number.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = clamp(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// The day number if `year-month-day` is a real date.
pub fn checked_days(year: i64, month: u32, day: u32) -> Option<i64> {
    (1..=12).contains(&month).then_some(())?;
    (1..=days_in_month(year, month)).contains(&day).then(|| days_from_civil(year, month, day))
}

/// Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
pub fn weekday(days: i64) -> i64 {
    (clamp(days) + 3).rem_euclid(7)
}

/// The Monday that starts the ISO week containing `days`.
pub fn week_start(days: i64) -> i64 {
    clamp(days) - weekday(days)
}

pub fn month_start(days: i64) -> i64 {
    let (y, m, _) = civil_from_days(days);
    days_from_civil(y, m, 1)
}

pub fn quarter_start(days: i64) -> i64 {
    let (y, m, _) = civil_from_days(days);
    days_from_civil(y, (m - 1) / 3 * 3 + 1, 1)
}

/// `YYYY-MM-DD` (`-YYYY-MM-DD` before year 0).
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    let sign = if y < 0 { "-" } else { "" };
    format!("{sign}{:04}-{m:02}-{d:02}", y.abs())
}

/// `YYYY-MM-DDTHH:MM:SSZ`, with the fraction of a second to the microsecond when there is
/// one (`2026-03-14T09:30:00.25Z`).
pub fn format_time(seconds: f64) -> String {
    let whole = seconds.floor();
    #[allow(clippy::cast_possible_truncation)]
    let (mut secs, mut micros) = (whole as i64, ((seconds - whole) * 1e6).round() as i64);
    // A fraction that rounds to a whole second is the next second, not `:001.`.
    if micros >= 1_000_000 {
        secs += 1;
        micros = 0;
    }
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let s = format!("{}T{:02}:{:02}:{:02}", format_date(days), rem / 3600, rem / 60 % 60, rem % 60);
    if micros > 0 {
        format!("{s}.{}Z", format!("{micros:06}").trim_end_matches('0'))
    } else {
        format!("{s}Z")
    }
}

/// Seconds since 1970 of a whole second and a fraction of it (0 ≤ `fraction` < 1), kept
/// inside that second: added as floats, `9999-12-31T23:59:59.999999` rounds up to the next
/// second (there, the next year, past the range), and any time then falls on a wrong day
/// for `day()` or a trend.
#[allow(clippy::cast_precision_loss)] // |secs| < 2^53 in the supported range
pub fn time_value(secs: i64, fraction: f64) -> f64 {
    let t = secs as f64 + fraction;
    let next = (secs + 1) as f64;
    if t < next {
        t
    } else if next > 0.0 {
        // The float just below (`f64::next_down`, past this crate's minimum Rust).
        f64::from_bits(next.to_bits() - 1)
    } else if next < 0.0 {
        f64::from_bits(next.to_bits() + 1)
    } else {
        -f64::from_bits(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fraction_that_rounds_up_stays_in_its_second() {
        let last = days_from_civil(9999, 12, 31) * 86_400 + 86_399;
        let t = time_value(last, 0.999_999);
        assert!(t < (last + 1) as f64 && t > last as f64);
        assert_eq!(format_time(t).get(..19), Some("9999-12-31T23:59:59"));
        assert_eq!(time_value(0, 0.25), 0.25);
    }

    #[test]
    fn times_show_their_fraction_to_the_microsecond() {
        assert_eq!(format_time(0.25), "1970-01-01T00:00:00.25Z");
        assert_eq!(format_time(1.000_000_2), "1970-01-01T00:00:01Z");
        // 0.9999997 s rounds to the next second, not to `:001.`.
        assert_eq!(format_time(0.999_999_7), "1970-01-01T00:00:01Z");
        assert_eq!(format_time(-0.5), "1969-12-31T23:59:59.5Z");
    }

    #[test]
    fn round_trips_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for d in [-800_000, -1, 0, 59, 11_016, 20_526, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn the_range_ends_are_years_minus_9999_and_9999_and_shown_with_their_sign() {
        assert_eq!(days_from_civil(-9999, 1, 1), MIN_DAY);
        assert_eq!(days_from_civil(9999, 12, 31), MAX_DAY);
        assert_eq!(format_date(MIN_DAY), "-9999-01-01");
        assert_eq!(format_date(days_from_civil(-1, 12, 27)), "-0001-12-27");
        assert_eq!(format_date(MAX_DAY), "9999-12-31");
        assert!(in_range(MIN_DAY) && in_range(MAX_DAY));
        assert!(!in_range(MIN_DAY - 1) && !in_range(MAX_DAY + 1));
        // One second before 10000-01-01 is in range; 10000-01-01 itself is not.
        #[allow(clippy::cast_precision_loss)]
        let end = (MAX_DAY + 1) as f64 * 86_400.0;
        assert!(value_in_range(end - 1.0, true) && !value_in_range(end, true));
        // Beyond the range nothing overflows, whatever the day number.
        for d in [i64::MIN, i64::MAX, MIN_DAY - 1, MAX_DAY + 1] {
            let _ = (format_date(d), week_start(d), month_start(d), quarter_start(d), weekday(d));
        }
        let _ = format_time(1e300);
        let _ = format_time(-1e300);
    }

    #[test]
    fn iso_week_starts_on_monday_across_the_year_boundary() {
        // 2027-01-01 is a Friday; its ISO week starts on Monday 2026-12-28.
        let d = days_from_civil(2027, 1, 1);
        assert_eq!(format_date(week_start(d)), "2026-12-28");
        assert_eq!(format_date(week_start(days_from_civil(2026, 3, 16))), "2026-03-16");
        assert_eq!(format_date(quarter_start(days_from_civil(2026, 8, 20))), "2026-07-01");
    }

    #[test]
    fn rejects_impossible_dates() {
        assert_eq!(checked_days(2026, 2, 29), None);
        assert!(checked_days(2024, 2, 29).is_some());
        assert_eq!(checked_days(2026, 13, 1), None);
    }
}
