//! When a `SyncSchedule` fires: pure, from the spec, the last scheduled time and the current time. Like a
//! CronJob: due times missed while the operator was away are counted; only the latest is run, and only within
//! the starting deadline; a due time inside a blackout window is skipped, not delayed.

use chrono::{DateTime, Datelike, NaiveTime, Utc};
use chrono_tz::Tz;
use crds::v1alpha1::{BlackoutWindow, SyncScheduleSpec, Trigger, Weekday};

/// Due times looked at in one evaluation at most (an operator down for years does not loop forever).
const MAX_DUE_TIMES_SCANNED: usize = 10_000;

/// What to do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The due time to fire now, if any.
    pub fire: Option<DateTime<Utc>>,
    /// Due times since the last one that will never run (superseded, past the deadline or in a blackout).
    pub missed: u64,
    /// The latest due time reached (fired or not): the new `lastScheduleTime` bookmark.
    pub reached: Option<DateTime<Utc>>,
    /// The next due time outside blackout windows, for `status.nextScheduleTime`.
    pub next: Option<DateTime<Utc>>,
}

/// A schedule that cannot be evaluated, naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ScheduleError {
    pub field: &'static str,
    pub message: String,
}

/// Evaluates `spec` at `now`. `since` is the last due time already handled (or the resource's creation time).
pub fn evaluate(
    spec: &SyncScheduleSpec,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Decision, ScheduleError> {
    let none = Decision {
        fire: None,
        missed: 0,
        reached: None,
        next: None,
    };
    let Some(expression) = spec.schedule.as_deref() else {
        return Ok(none);
    };
    if spec.trigger == Trigger::EventOnly {
        return Ok(none);
    }
    let cron = crds::validation::parse_cron(expression).map_err(|message| ScheduleError {
        field: "spec.schedule",
        message,
    })?;
    let zone =
        crds::validation::parse_time_zone(&spec.time_zone).map_err(|message| ScheduleError {
            field: "spec.timeZone",
            message,
        })?;
    let windows = spec
        .blackout_windows
        .iter()
        .map(Window::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let in_blackout = |t: DateTime<Utc>| windows.iter().any(|w| w.contains(t.with_timezone(&zone)));

    let mut due_times = Vec::new();
    let mut next = None;
    let mut next_open = None;
    for t in cron
        .iter_after(since.with_timezone(&zone))
        .take(MAX_DUE_TIMES_SCANNED)
    {
        let t = t.with_timezone(&Utc);
        if t <= now {
            due_times.push(t);
            continue;
        }
        next.get_or_insert(t);
        if !in_blackout(t) {
            next_open = Some(t);
            break;
        }
    }
    let reached = due_times.last().copied();
    let Some(latest) = reached else {
        return Ok(Decision {
            next: next_open.or(next),
            ..none
        });
    };
    let mut missed = (due_times.len() - 1) as u64;
    let late = spec
        .starting_deadline_seconds
        .is_some_and(|deadline| (now - latest).num_seconds() > deadline);
    let fire = if spec.suspend {
        None
    } else if late || in_blackout(latest) {
        missed += 1;
        None
    } else {
        Some(latest)
    };
    Ok(Decision {
        fire,
        missed,
        reached,
        next: next_open.or(next),
    })
}

/// A blackout window in the schedule's time zone; `end` before `start` spans midnight.
struct Window {
    start: NaiveTime,
    end: NaiveTime,
    days: Vec<chrono::Weekday>,
}

impl Window {
    fn parse(w: &BlackoutWindow) -> Result<Self, ScheduleError> {
        let time = |value: &str| {
            NaiveTime::parse_from_str(value, "%H:%M").map_err(|e| ScheduleError {
                field: "spec.blackoutWindows",
                message: format!("{value:?}: {e}"),
            })
        };
        Ok(Self {
            start: time(&w.start)?,
            end: time(&w.end)?,
            days: w.days.iter().map(|d| weekday(*d)).collect(),
        })
    }

    fn contains(&self, t: DateTime<Tz>) -> bool {
        let clock = t.time();
        let day = t.weekday();
        if self.start < self.end {
            self.applies(day) && clock >= self.start && clock < self.end
        } else {
            // Spans midnight: the evening part belongs to `day`, the morning part to the day before.
            (self.applies(day) && clock >= self.start)
                || (self.applies(day.pred()) && clock < self.end)
        }
    }

    fn applies(&self, day: chrono::Weekday) -> bool {
        self.days.is_empty() || self.days.contains(&day)
    }
}

fn weekday(d: Weekday) -> chrono::Weekday {
    match d {
        Weekday::Mon => chrono::Weekday::Mon,
        Weekday::Tue => chrono::Weekday::Tue,
        Weekday::Wed => chrono::Weekday::Wed,
        Weekday::Thu => chrono::Weekday::Thu,
        Weekday::Fri => chrono::Weekday::Fri,
        Weekday::Sat => chrono::Weekday::Sat,
        Weekday::Sun => chrono::Weekday::Sun,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(extra: &str) -> SyncScheduleSpec {
        serde_yaml_ng::from_str(&format!(
            "marketplaceRef: {{name: mp}}\nflow: inventory\nschedule: \"0 * * * *\"\n{extra}"
        ))
        .unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn fires_the_due_time_just_passed_and_names_the_next() {
        let d = evaluate(
            &spec(""),
            at("2026-01-05T09:30:00Z"),
            at("2026-01-05T10:00:05Z"),
        )
        .unwrap();
        assert_eq!(d.fire, Some(at("2026-01-05T10:00:00Z")));
        assert_eq!(d.missed, 0);
        assert_eq!(d.next, Some(at("2026-01-05T11:00:00Z")));
    }

    #[test]
    fn nothing_is_due_between_two_times() {
        let d = evaluate(
            &spec(""),
            at("2026-01-05T10:00:00Z"),
            at("2026-01-05T10:59:59Z"),
        )
        .unwrap();
        assert_eq!(d.fire, None);
        assert_eq!(d.reached, None);
        assert_eq!(d.next, Some(at("2026-01-05T11:00:00Z")));
    }

    #[test]
    fn missed_runs_are_counted_and_only_the_latest_fires() {
        let d = evaluate(
            &spec(""),
            at("2026-01-05T06:30:00Z"),
            at("2026-01-05T10:10:00Z"),
        )
        .unwrap();
        assert_eq!(d.fire, Some(at("2026-01-05T10:00:00Z")));
        assert_eq!(d.missed, 3);
    }

    #[test]
    fn past_the_starting_deadline_nothing_fires() {
        let s = spec("startingDeadlineSeconds: 300");
        let d = evaluate(&s, at("2026-01-05T09:30:00Z"), at("2026-01-05T10:06:00Z")).unwrap();
        assert_eq!(d.fire, None);
        assert_eq!(d.missed, 1);
        assert_eq!(d.reached, Some(at("2026-01-05T10:00:00Z")));
    }

    #[test]
    fn the_time_zone_moves_the_due_time() {
        let s = spec("timeZone: Europe/Paris").clone();
        let s = SyncScheduleSpec {
            schedule: Some("0 2 * * *".into()),
            ..s
        };
        // 02:00 in Paris in January is 01:00 UTC.
        let d = evaluate(&s, at("2026-01-05T00:00:00Z"), at("2026-01-05T01:00:01Z")).unwrap();
        assert_eq!(d.fire, Some(at("2026-01-05T01:00:00Z")));
    }

    #[test]
    fn a_blackout_window_skips_and_next_is_after_it() {
        let s = spec("blackoutWindows: [{start: \"22:00\", end: \"06:00\"}]");
        let d = evaluate(&s, at("2026-01-05T22:30:00Z"), at("2026-01-05T23:00:01Z")).unwrap();
        assert_eq!(d.fire, None);
        assert_eq!(d.missed, 1);
        assert_eq!(d.next, Some(at("2026-01-06T06:00:00Z")));
    }

    #[test]
    fn blackout_days_limit_the_window() {
        // 2026-01-05 is a Monday; the window applies on Sundays only.
        let s = spec("blackoutWindows: [{start: \"09:00\", end: \"12:00\", days: [Sun]}]");
        let d = evaluate(&s, at("2026-01-05T09:30:00Z"), at("2026-01-05T10:00:01Z")).unwrap();
        assert_eq!(d.fire, Some(at("2026-01-05T10:00:00Z")));
    }

    #[test]
    fn suspended_schedules_do_not_fire_but_advance() {
        let d = evaluate(
            &spec("suspend: true"),
            at("2026-01-05T09:30:00Z"),
            at("2026-01-05T10:00:05Z"),
        )
        .unwrap();
        assert_eq!(d.fire, None);
        assert_eq!(d.reached, Some(at("2026-01-05T10:00:00Z")));
    }

    #[test]
    fn a_bad_expression_names_the_field() {
        let s = SyncScheduleSpec {
            schedule: Some("every tuesday".into()),
            ..spec("")
        };
        let e = evaluate(&s, at("2026-01-05T09:30:00Z"), at("2026-01-05T10:00:05Z")).unwrap_err();
        assert_eq!(e.field, "spec.schedule");
    }
}
