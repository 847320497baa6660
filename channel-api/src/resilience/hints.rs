//! What a server says about its limits, as connectors find it in responses: `Retry-After` (RFC 9110, both
//! forms), Amazon's `x-amzn-RateLimit-Limit`, Shopify's `extensions.cost.throttleStatus`.
//!
//! Parsing is total: a value that does not parse is no hint (`None`), never a panic, and no floating point is
//! involved: a decimal rate such as "0.0056" becomes the exact ratio 7 per 1,250 s.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::limits::period_nanos;

/// Header names (compared case-insensitively).
pub const RETRY_AFTER: &str = "retry-after";
pub const AMZN_RATE_LIMIT: &str = "x-amzn-ratelimit-limit";

/// A server's statement about how fast this operation may be called. Connectors pass them up with a throttled
/// failure, or to [`super::Guard::observe`] from any response that carries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerHint {
    /// Do not call this operation before this much time has passed (`Retry-After`; see [`parse_retry_after`]).
    RetryAfter(Duration),
    /// The operation's current rate for the whole seller account (Amazon's `x-amzn-RateLimit-Limit`).
    RateLimit { requests_per_second: Rate },
    /// Shopify's cost bucket as the response left it. Shopify reports these as JSON numbers; connectors round
    /// them down to whole points, which errs on the slow side.
    ShopifyThrottle {
        maximum_available: u64,
        currently_available: u64,
        /// Points restored per second.
        restore_rate: u64,
    },
}

/// A rate of `requests` per `per_seconds` seconds, both whole and positive, in lowest terms: Amazon's
/// "0.0056" requests per second is 7 per 1,250 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    requests: u64,
    per_seconds: u64,
}

/// At most this many decimals are read: 10^18 still fits a `u64`, and no server states rates more finely.
const MAX_DECIMALS: u32 = 18;

impl Rate {
    /// `requests` per `per_seconds` seconds; `None` when either is zero.
    pub fn new(requests: u64, per_seconds: u64) -> Option<Self> {
        if requests == 0 || per_seconds == 0 {
            return None;
        }
        let divisor = gcd(requests, per_seconds);
        Some(Self {
            requests: requests / divisor,
            per_seconds: per_seconds / divisor,
        })
    }

    /// A non-negative decimal in requests per second ("5", "0.5", "0.0056"), exactly. `None` for anything else:
    /// signs, exponents, empty parts, more than 18 decimals, values beyond `u64`, and zero (a rate of zero says
    /// nothing a client can pace to).
    pub fn parse_decimal(text: &str) -> Option<Self> {
        let text = text.trim();
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (text, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        if text.ends_with('.') {
            return None;
        }
        let decimals = u32::try_from(fraction.len()).ok()?;
        if decimals > MAX_DECIMALS {
            return None;
        }
        let scale = 10u64.checked_pow(decimals)?;
        let whole: u64 = whole.parse().ok()?;
        let fraction: u64 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().ok()?
        };
        let scaled = whole.checked_mul(scale)?.checked_add(fraction)?;
        Self::new(scaled, scale)
    }

    pub fn requests(&self) -> u64 {
        self.requests
    }

    pub fn per_seconds(&self) -> u64 {
        self.per_seconds
    }

    /// The time between two requests when `share` replicas split this rate evenly, rounded up to the
    /// nanosecond so that the replicas together stay within it.
    pub fn period(&self, share: u32) -> Duration {
        let total = u128::from(self.per_seconds) * 1_000_000_000 * u128::from(share.max(1));
        period_nanos(total, u128::from(self.requests))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {} s", self.requests, self.per_seconds)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

/// Amazon's `x-amzn-RateLimit-Limit` value: the operation's rate in requests per second, as a decimal.
pub fn parse_amzn_rate_limit(value: &str) -> Option<ServerHint> {
    Rate::parse_decimal(value).map(|requests_per_second| ServerHint::RateLimit {
        requests_per_second,
    })
}

/// A `Retry-After` value as the time still to wait at `now` (wall-clock time, which HTTP dates are in):
/// delay-seconds ("120") or an HTTP-date in any of the three forms RFC 9110 requires recipients to accept
/// ("Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"). A date
/// already past is zero. `None` when the value is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is "a very long time"; the limiter caps pauses anyway.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let unix_seconds = parse_http_date(value, now)?;
    // Before 1970 is in the past too.
    let at = u64::try_from(unix_seconds)
        .ok()
        .and_then(|seconds| UNIX_EPOCH.checked_add(Duration::from_secs(seconds)));
    Some(at.map_or(Duration::ZERO, |at| {
        at.duration_since(now).unwrap_or(Duration::ZERO)
    }))
}

/// The hints in a response's headers: `Retry-After` and `x-amzn-RateLimit-Limit`, names in any case. Values
/// that do not parse are skipped.
pub fn hints_from_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    now: SystemTime,
) -> Vec<ServerHint> {
    headers
        .into_iter()
        .filter_map(|(name, value)| {
            if name.eq_ignore_ascii_case(RETRY_AFTER) {
                parse_retry_after(value, now).map(ServerHint::RetryAfter)
            } else if name.eq_ignore_ascii_case(AMZN_RATE_LIMIT) {
                parse_amzn_rate_limit(value)
            } else {
                None
            }
        })
        .collect()
}

/// An HTTP-date as seconds since the Unix epoch (negative before 1970). `now` resolves rfc850's two-digit years.
fn parse_http_date(value: &str, now: SystemTime) -> Option<i64> {
    let spaced = value.replace(',', " ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let (day, month, year, time) = match tokens.as_slice() {
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        [_weekday, day, month, year, time, "GMT"] if year.len() == 4 => {
            (*day, *month, parse_number(year)?, *time)
        }
        // rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT
        [_weekday, date, time, "GMT"] => {
            let mut parts = date.split('-');
            let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() || year.len() != 2 {
                return None;
            }
            (day, month, full_year(parse_number(year)?, now), *time)
        }
        // asctime-date: Sun Nov  6 08:49:37 1994
        [_weekday, month, day, time, year] if year.len() == 4 => {
            (*day, *month, parse_number(year)?, *time)
        }
        _ => return None,
    };
    let month = month_number(month)?;
    let day = parse_number(day)?;
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut clock = time.split(':');
    let (hour, minute, second) = (clock.next()?, clock.next()?, clock.next()?);
    if clock.next().is_some() || [hour, minute, second].iter().any(|part| part.len() != 2) {
        return None;
    }
    let (hour, minute, second) = (
        parse_number(hour)?,
        parse_number(minute)?,
        parse_number(second)?,
    );
    // 60 is a leap second; the date is still valid.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn parse_number(digits: &str) -> Option<i64> {
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// RFC 9110 §5.6.7: a two-digit year more than 50 years ahead of `now` is the most recent past year with those
/// digits.
fn full_year(two_digits: i64, now: SystemTime) -> i64 {
    let now_seconds = now
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let this_year = civil_year(now_seconds.div_euclid(86_400));
    let candidate = this_year - this_year.rem_euclid(100) + two_digits;
    if candidate > this_year + 50 {
        candidate - 100
    } else {
        candidate
    }
}

fn month_number(name: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let index = MONTHS.iter().position(|m| *m == name)?;
    i64::try_from(index).ok().map(|i| i + 1)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The year of a day counted from 1970-01-01 (the year part of Hinnant's `civil_from_days`).
fn civil_year(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let year = year_of_era + era * 400;
    if month_from_march >= 10 {
        year + 1
    } else {
        year
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1994-11-06T08:49:37Z, the RFC's example date.
    const EXAMPLE: u64 = 784_111_777;

    fn at(unix_seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix_seconds)
    }

    #[test]
    fn decimals_become_exact_ratios() {
        assert_eq!(Rate::parse_decimal("0.0056"), Rate::new(7, 1_250));
        assert_eq!(Rate::parse_decimal("0.5"), Rate::new(1, 2));
        assert_eq!(Rate::parse_decimal("5"), Rate::new(5, 1));
        assert_eq!(Rate::parse_decimal(" 2.0 "), Rate::new(2, 1));
        for bad in [
            "",
            ".5",
            "5.",
            "-1",
            "1e3",
            "0",
            "0.000",
            "abc",
            "1.2.3",
            "0.0000000000000000001",
            "99999999999999999999",
        ] {
            assert_eq!(Rate::parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rate_periods_round_up_and_divide_among_replicas() {
        let search = Rate::new(7, 1_250).unwrap();
        assert_eq!(search.period(1), Duration::from_nanos(178_571_428_572));
        let half = Rate::new(1, 2).unwrap();
        assert_eq!(half.period(3), Duration::from_secs(6));
    }

    #[test]
    fn retry_after_in_seconds() {
        let now = at(EXAMPLE);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
    }

    #[test]
    fn retry_after_as_http_date_in_all_three_forms() {
        let now = at(EXAMPLE - 90);
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                parse_retry_after(form, now),
                Some(Duration::from_secs(90)),
                "{form}"
            );
        }
        // A date in the past means now.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at(EXAMPLE + 5)),
            Some(Duration::ZERO)
        );
        // Leap years and the epoch itself.
        let leap_day = "Thu, 29 Feb 2024 00:00:00 GMT";
        assert_eq!(parse_http_date(leap_day, now), Some(1_709_164_800));
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT", now),
            Some(0)
        );
    }

    #[test]
    fn malformed_dates_are_no_hint() {
        let now = at(EXAMPLE);
        for bad in [
            "Sun, 06 Nov 1994 08:49:37 CET",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 2023 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "tomorrow",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn two_digit_years_resolve_against_now() {
        let in_2030 = at(1_893_456_000); // 2030-01-01
        assert_eq!(full_year(79, in_2030), 2079);
        assert_eq!(full_year(81, in_2030), 1981);
        assert_eq!(civil_year(0), 1970);
        assert_eq!(civil_year(days_from_civil(2024, 12, 31)), 2024);
        assert_eq!(civil_year(days_from_civil(2025, 1, 1)), 2025);
    }

    #[test]
    fn headers_yield_hints() {
        let hints = hints_from_headers(
            [
                ("Retry-After", "3"),
                ("x-amzn-RateLimit-Limit", "0.5"),
                ("x-amzn-RequestId", "abc"),
                ("retry-after", "soon"),
            ],
            at(EXAMPLE),
        );
        assert_eq!(
            hints,
            vec![
                ServerHint::RetryAfter(Duration::from_secs(3)),
                ServerHint::RateLimit {
                    requests_per_second: Rate::new(1, 2).unwrap()
                },
            ]
        );
    }
}
