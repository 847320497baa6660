//! `twctl dlq list|show|replay`: the dead letters of a namespace, filtered; one in full; replayed to where it
//! came from (idempotent: a replayed dead letter is gone, replaying it again reports so).

use std::fmt::Write as _;

use adapter_runtime::envelope::{H_CORRELATION_ID, encode};
use adapter_runtime::jetstream::{DeadLetterStore, ReplayOutcome, StoredDeadLetter};
use adapter_runtime::topology::Namespace;
use chrono::{DateTime, Duration, Utc};
use crds::channel::Flow;

use crate::nats::NatsArgs;
use crate::table::Table;

/// Which dead letters a command applies to.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Filter {
    /// Only this marketplace's.
    #[arg(long, short)]
    pub marketplace: Option<String>,
    /// Only this flow's (inventory, price, catalog, orders, shipments, returns, settlements, invoices).
    #[arg(long, short, value_parser = parse_flow)]
    pub flow: Option<Flow>,
    /// Only those whose reason or class contains this text (case-insensitive).
    #[arg(long, short)]
    pub reason: Option<String>,
    /// Only those dead-lettered at or after this time: RFC 3339 (`2026-11-28T09:00:00Z`) or an age (`30m`,
    /// `2h`, `7d`).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
}

impl Filter {
    pub fn matches(&self, stored: &StoredDeadLetter) -> bool {
        let letter = &stored.letter;
        self.marketplace
            .as_ref()
            .is_none_or(|m| *m == letter.marketplace)
            && self.flow.is_none_or(|f| f == letter.flow)
            && self.reason.as_ref().is_none_or(|r| {
                let needle = r.to_lowercase();
                letter.reason.to_lowercase().contains(&needle)
                    || letter.class.as_str().contains(&needle)
            })
            && self.since.is_none_or(|t| letter.at >= t)
    }
}

pub fn parse_flow(text: &str) -> Result<Flow, String> {
    Flow::ALL
        .into_iter()
        .find(|f| f.as_str() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = Flow::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown flow {text:?} (one of: {})", names.join(", "))
        })
}

/// An RFC 3339 time, or an age before now (`45s`, `30m`, `2h`, `7d`).
pub fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    parse_since_at(text, Utc::now())
}

fn parse_since_at(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let amount: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is neither an RFC 3339 time nor an age like 30m, 2h, 7d"))?;
    let age = match unit {
        "s" => Duration::seconds(amount),
        "m" => Duration::minutes(amount),
        "h" => Duration::hours(amount),
        "d" => Duration::days(amount),
        _ => return Err(format!("{text:?}: the unit of an age is s, m, h or d")),
    };
    Ok(now - age)
}

/// The dead letters matching `filter`, oldest first.
pub async fn list(nats: &NatsArgs, filter: &Filter) -> anyhow::Result<Vec<StoredDeadLetter>> {
    let store = DeadLetterStore::new(nats.connect().await?, Namespace::new(&nats.namespace));
    let all = store
        .list(filter.marketplace.as_deref(), filter.flow)
        .await?;
    Ok(all.into_iter().filter(|d| filter.matches(d)).collect())
}

/// A table of dead letters, one a line.
pub fn render_list(letters: &[StoredDeadLetter]) -> String {
    let mut table = Table::new([
        "SEQ",
        "AT (UTC)",
        "MARKETPLACE",
        "FLOW",
        "CLASS",
        "TRIES",
        "REASON",
    ]);
    for d in letters {
        let l = &d.letter;
        table.row([
            d.sequence.to_string(),
            l.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            l.marketplace.clone(),
            l.flow.to_string(),
            l.class.to_string(),
            l.attempts.to_string(),
            l.reason.clone(),
        ]);
    }
    let mut out = table.render(120);
    let _ = writeln!(out, "{} dead letters", letters.len());
    out
}

/// One dead letter in full: where it came from, why, its headers and its payload.
pub fn render_one(d: &StoredDeadLetter) -> String {
    let l = &d.letter;
    let mut out = String::new();
    let _ = writeln!(out, "sequence:       {}", d.sequence);
    let _ = writeln!(out, "marketplace:    {}", l.marketplace);
    let _ = writeln!(out, "flow:           {}", l.flow);
    let _ = writeln!(out, "subject:        {}", l.original_subject);
    let _ = writeln!(out, "class:          {}", l.class);
    let _ = writeln!(out, "attempts:       {}", l.attempts);
    let _ = writeln!(out, "at:             {}", l.at.to_rfc3339());
    if let Some(id) = l.headers.get(H_CORRELATION_ID) {
        let _ = writeln!(out, "correlation id: {id}");
    }
    let _ = writeln!(out, "reason:         {}", l.reason);
    let _ = writeln!(out, "headers:");
    for (name, value) in &l.headers {
        let _ = writeln!(out, "  {name}: {value}");
    }
    let _ = writeln!(out, "payload:");
    let payload = match serde_json::from_slice::<serde_json::Value>(&l.payload) {
        Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(&l.payload).into_owned(),
    };
    for line in payload.lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// Replays the dead letters with these sequences; a line per sequence saying what happened. Each goes where its
/// content says (`adapter_runtime::jetstream::ReplayPlan`): a record in its envelope back to its subject, for its
/// marketplace only; a raw channel record to the marketplace's adapter, to be read again by its connector; a raw
/// ERP record back to the ERP's subject, or, an outbox row, rebuilt by the bridge's code.
pub async fn replay(nats: &NatsArgs, sequences: &[u64]) -> anyhow::Result<String> {
    let store = DeadLetterStore::new(nats.connect().await?, Namespace::new(&nats.namespace));
    let mut out = String::new();
    for &sequence in sequences {
        let line = match store.replay(sequence).await? {
            ReplayOutcome::Republished(outcome) => {
                format!("{sequence}: replayed ({outcome:?})")
            }
            ReplayOutcome::SentToReread(outcome) => format!(
                "{sequence}: replayed to the marketplace's adapter, whose connector reads it again ({outcome:?})"
            ),
            ReplayOutcome::Superseded { by } => format!(
                "{sequence}: not sent: a newer record replaced it on its subject (stream sequence {by}) and was \
                 sent after it; removed"
            ),
            ReplayOutcome::NeedsRebuild(letter) => {
                match erp_bridge::outbox::replayed(
                    &Namespace::new(&nats.namespace),
                    &nats.namespace,
                    &letter,
                ) {
                    Ok(routed) => {
                        let (headers, payload) = encode(&routed.event, Some(&routed.key))?;
                        let outcome = store
                            .replay_as(sequence, &routed.subject, &headers, payload)
                            .await?;
                        format!(
                            "{sequence}: replayed as the ERP's {} record ({outcome:?})",
                            routed.flow
                        )
                    }
                    Err(why) => format!("{sequence}: not replayed, kept: {why}"),
                }
            }
            ReplayOutcome::NotFound => {
                format!("{sequence}: no such dead letter (already replayed, or expired)")
            }
        };
        let _ = writeln!(out, "{line}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn since_takes_times_and_ages() {
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        assert_eq!(
            parse_since_at("2h", now),
            Ok(Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap())
        );
        assert_eq!(
            parse_since_at("2026-11-27T00:00:00Z", now),
            Ok(Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap())
        );
        assert!(
            parse_since_at("2w", now)
                .unwrap_err()
                .contains("s, m, h or d")
        );
        assert!(parse_since_at("yesterday", now).is_err());
    }

    #[test]
    fn unknown_flows_are_named_with_the_known_ones() {
        assert_eq!(parse_flow("orders"), Ok(Flow::Orders));
        assert!(
            parse_flow("order")
                .unwrap_err()
                .contains("inventory, price")
        );
    }
}
