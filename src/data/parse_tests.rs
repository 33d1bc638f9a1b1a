//! The cell parsers, form by form.

use super::*;

#[test]
fn bool_accepts_the_six_word_pairs_and_digits_in_any_case() {
    for t in ["true", "TRUE", "True", "t", "T", "yes", "YES", "y", "Y", "1"] {
        assert_eq!(parse_bool(t), Some(true), "{t}");
    }
    for f in ["false", "False", "f", "F", "no", "No", "n", "N", "0"] {
        assert_eq!(parse_bool(f), Some(false), "{f}");
    }
}

#[test]
fn bool_rejects_everything_else() {
    for bad in ["", " true", "true ", "2", "-1", "01", "on", "off", "yess", "truee", "ja", "✓"] {
        assert_eq!(parse_bool(bad), None, "{bad:?}");
    }
}

#[test]
fn number_accepts_decimal_and_exponent_forms() {
    let cases: &[(&str, f64)] = &[
        ("0", 0.0),
        ("42", 42.0),
        ("-7", -7.0),
        ("+7", 7.0),
        ("12.5", 12.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("-0.25", -0.25),
        ("1e3", 1000.0),
        ("1E3", 1000.0),
        ("2.5e-3", 0.0025),
        ("2.5E+3", 2500.0),
        ("007", 7.0),
        ("0.1", 0.1),
        ("123456789012345678901234567890", 1.2345678901234568e29),
        ("1.7976931348623157e308", f64::MAX),
        ("4.9e-324", 4.9e-324),
        ("0e999", 0.0),
        ("0.000", 0.0),
    ];
    for &(s, want) in cases {
        assert_eq!(parse_number(s), Ok(want), "{s}");
    }
}

#[test]
fn number_fast_path_rounds_like_the_standard_parser() {
    for s in [
        "0.1",
        "0.2",
        "0.3",
        "1.1",
        "3.14159",
        "123.456",
        "99999.99999",
        "0.000001",
        "1e22",
        "1e-22",
        "123456789012345",
        "1.23456789012345",
        "9007199254740993",
        "8.5e-15",
    ] {
        assert_eq!(parse_number(s), Ok(s.parse::<f64>().unwrap()), "{s}");
    }
}

#[test]
fn number_signs_hold_beyond_the_fast_path() {
    // More than 15 significant digits or a power of ten past 22: the standard parser's path.
    for s in ["9007199254740993", "1e23", "1.23456789012345678", "4.9e-324", "1.7e308"] {
        let want: f64 = s.parse().unwrap();
        assert_eq!(parse_number(s), Ok(want), "{s}");
        assert_eq!(parse_number(&format!("-{s}")), Ok(-want), "-{s}");
        assert_eq!(parse_number(&format!("+{s}")), Ok(want), "+{s}");
    }
}

#[test]
fn number_rejects_localised_and_foreign_notation() {
    for bad in [
        "12,5", "1,000", "1_000", "0x10", "N/A", "—", "", "-", "+", ".", "e5", "1e", "1e+",
        "1.2.3", "--1", "1-", "½", "١٢", "1 000", "12.5%", "$5",
    ] {
        assert_eq!(parse_number(bad), Err(NumError::Invalid), "{bad:?}");
    }
}

#[test]
fn number_rejects_non_finite_words_with_any_sign_and_case() {
    for bad in ["nan", "NaN", "NAN", "-nan", "inf", "+inf", "-Inf", "infinity", "-Infinity"] {
        assert_eq!(parse_number(bad), Err(NumError::NonFinite), "{bad}");
    }
}

#[test]
fn number_rejects_overflow_and_underflow_to_zero() {
    for bad in ["1e400", "-1e400", "1e-400", "-1e-400", "1e99999999999999999999", "2e308"] {
        assert_eq!(parse_number(bad), Err(NumError::OutOfRange), "{bad}");
    }
}

#[test]
fn number_names_surrounding_spaces() {
    for bad in [" 7", "7 ", "\t7", "7\r"] {
        assert_eq!(parse_number(bad), Err(NumError::Spaces), "{bad:?}");
    }
    assert_eq!(parse_number(" "), Err(NumError::Invalid));
    assert_eq!(parse_number(" x "), Err(NumError::Invalid));
}

#[test]
fn int_accepts_signed_digits_up_to_2_pow_53() {
    assert_eq!(parse_int("0"), Ok(0.0));
    assert_eq!(parse_int("-0"), Ok(0.0));
    assert!(parse_int("-0").unwrap().is_sign_positive());
    assert_eq!(parse_int("+12"), Ok(12.0));
    assert_eq!(parse_int("-12"), Ok(-12.0));
    assert_eq!(parse_int("0042"), Ok(42.0));
    assert_eq!(parse_int("9007199254740992"), Ok(9_007_199_254_740_992.0));
    assert_eq!(parse_int("-9007199254740992"), Ok(-9_007_199_254_740_992.0));
}

#[test]
fn int_rejects_fractions_separators_and_large_values() {
    for bad in ["1.0", "1e3", "1_000", "1,000", "0x1F", "", "-", "+", "١"] {
        assert_eq!(parse_int(bad), Err(NumError::Invalid), "{bad:?}");
    }
    assert_eq!(parse_int("9007199254740993"), Err(NumError::OutOfRange));
    assert_eq!(parse_int("99999999999999999999999"), Err(NumError::OutOfRange));
    assert_eq!(parse_int(" 7"), Err(NumError::Spaces));
    assert_eq!(parse_int("inf"), Err(NumError::NonFinite));
}

#[test]
fn civil_day_conversions_round_trip_and_hit_known_dates() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(days_from_civil(1969, 12, 31), -1);
    assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    assert_eq!(civil_from_days(-719_468), (0, 3, 1));
    for d in (-800_000..800_000).step_by(997) {
        let (y, m, day) = civil_from_days(d);
        assert_eq!(days_from_civil(y, m, day), d);
    }
}

#[test]
fn date_parses_iso_calendar_dates_with_leap_years() {
    assert_eq!(parse_date("1970-01-01"), Some(0.0));
    assert_eq!(parse_date("2024-02-29"), Some(19_782.0));
    assert_eq!(parse_date("2000-02-29"), Some(11_016.0));
    assert_eq!(parse_date("1969-12-31"), Some(-1.0));
}

#[test]
fn date_rejects_impossible_and_other_forms() {
    for bad in [
        "2023-02-29",
        "1900-02-29",
        "2024-04-31",
        "2024-13-01",
        "2024-00-10",
        "2024-01-00",
        "2024-1-01",
        "24-01-01",
        "2024/01/01",
        "01.02.2024",
        "2024-01-01T00:00:00",
        " 2024-01-01",
        "",
        "2024-01-0x",
    ] {
        assert_eq!(parse_date(bad), None, "{bad:?}");
    }
}

#[test]
fn time_parses_iso_timestamps_to_utc_seconds() {
    let cases: &[(&str, f64)] = &[
        ("1970-01-01T00:00:00Z", 0.0),
        ("1970-01-01T00:00:00", 0.0),
        ("1970-01-01 00:00:00", 0.0),
        ("1970-01-01t00:00:01z", 1.0),
        ("2024-03-01T10:00:00Z", 1_709_287_200.0),
        ("2024-03-01T12:00:00+02:00", 1_709_287_200.0),
        ("2024-03-01T12:00:00+0200", 1_709_287_200.0),
        ("2024-03-01T05:30:00-04:30", 1_709_287_200.0),
        ("2024-03-01 10:00:00Z", 1_709_287_200.0),
        ("2024-03-01T10:00:00.250Z", 1_709_287_200.25),
        ("2024-03-01T10:00:00.5", 1_709_287_200.5),
        ("2016-12-31T23:59:60Z", 1_483_228_800.0),
        ("1969-12-31T23:59:59Z", -1.0),
    ];
    for &(s, want) in cases {
        assert_eq!(parse_time(s), Some(want), "{s}");
    }
    let nanos = parse_time("2024-03-01T10:00:00.123456789Z").unwrap();
    assert!((nanos - 1_709_287_200.123_456_7).abs() < 1e-6);
}

#[test]
fn time_rejects_out_of_range_fields_and_partial_forms() {
    for bad in [
        "2024-03-01T24:00:00Z",
        "2024-03-01T10:60:00Z",
        "2024-03-01T10:00:61Z",
        "2023-02-29T10:00:00Z",
        "2024-03-01T10:00Z",
        "2024-03-01T10:00",
        "2024-03-01",
        "2024-03-01T10:00:00.Z",
        "2024-03-01T10:00:00+2:00",
        "2024-03-01T10:00:00+24:00",
        "2024-03-01T10:00:00+02:60",
        "2024-03-01T10:00:00 Z",
        "2024-03-01T10:00:00Z ",
        " 2024-03-01T10:00:00Z",
        "2024-03-01_10:00:00",
        "2024-03-01T10:00:00+02",
        "",
        "2024-03-01T10:00:00EST",
    ] {
        assert_eq!(parse_time(bad), None, "{bad:?}");
    }
}

#[test]
fn duration_parses_seconds_and_clock_forms() {
    let cases: &[(&str, f64)] = &[
        ("0", 0.0),
        ("45", 45.0),
        ("12.5", 12.5),
        ("1:05", 65.0),
        ("75:30", 4530.0),
        ("0:00:59", 59.0),
        ("1:02:03", 3723.0),
        ("01:02:03", 3723.0),
        ("100:00:00", 360_000.0),
        ("1:02:03.5", 3723.5),
        ("2:03.25", 123.25),
    ];
    for &(s, want) in cases {
        assert_eq!(parse_duration(s), Some(want), "{s}");
    }
}

#[test]
fn duration_rejects_malformed_clock_forms() {
    for bad in [
        "",
        "1:2",
        "1:60",
        "1:02:60",
        "1:60:00",
        "1:2:03",
        ":05",
        "1::05",
        "1:02:03:04",
        "1:02.",
        "1:02.x",
        "-1:00",
        "1:05 ",
        "nan",
        "inf",
        "1e400",
        "1,5",
        "a:bc",
        "1234567890123:00",
    ] {
        assert_eq!(parse_duration(bad), None, "{bad:?}");
    }
}
