//! Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01),
//! shared by literal parsing, the CSV reader and the date functions.

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
    let z = days + 719_468;
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
    (days + 3).rem_euclid(7)
}

/// The Monday that starts the ISO week containing `days`.
pub fn week_start(days: i64) -> i64 {
    days - weekday(days)
}

pub fn month_start(days: i64) -> i64 {
    let (y, m, _) = civil_from_days(days);
    days_from_civil(y, m, 1)
}

pub fn quarter_start(days: i64) -> i64 {
    let (y, m, _) = civil_from_days(days);
    days_from_civil(y, (m - 1) / 3 * 3 + 1, 1)
}

/// `YYYY-MM-DD`
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DDTHH:MM:SSZ` (fractions of a second kept when present)
pub fn format_time(seconds: f64) -> String {
    let whole = seconds.floor();
    #[allow(clippy::cast_possible_truncation)]
    let secs = whole as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let frac = seconds - whole;
    let s = format!("{}T{:02}:{:02}:{:02}", format_date(days), rem / 3600, rem / 60 % 60, rem % 60);
    if frac > 0.0 {
        let f = format!("{frac:.6}");
        format!("{s}{}Z", f.trim_start_matches('0').trim_end_matches('0'))
    } else {
        format!("{s}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
