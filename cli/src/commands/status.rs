//! `twctl status`: per marketplace and flow, what waits (pending, in flight), what failed (dead letters) and
//! when work last succeeded, read from JetStream consumers, polling cursors and adapter heartbeats; then each
//! adapter replica's liveness and throttled calls.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use adapter_runtime::jetstream::{DeadLetterStore, Heartbeat, Heartbeats};
use adapter_runtime::subject::decode_token;
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use chrono::{DateTime, Utc};
use crds::channel::Flow;
use futures::TryStreamExt;

use crate::nats::NatsArgs;
use crate::table::Table;

/// What one durable consumer says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSnapshot {
    pub name: String,
    pub pending: u64,
    pub ack_pending: u64,
    pub redelivered: u64,
    pub last_ack: Option<DateTime<Utc>>,
}

/// One line of the status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStatus {
    pub marketplace: String,
    /// The flow and, where a flow has several parts, which (`orders in`, `orders to ERP`, `orders answers`).
    pub part: String,
    pub pending: u64,
    pub ack_pending: u64,
    pub redelivered: u64,
    pub dead_letters: u64,
    pub last_success: Option<DateTime<Utc>>,
}

/// The consumer roles an adapter creates, by the suffix of the durable name after `<marketplace>-`.
fn consumer_role(name: &str) -> Option<(String, String)> {
    let mut roles: Vec<(String, String)> = vec![
        ("order-process".into(), "orders to ERP".into()),
        ("order-updates".into(), "orders answers".into()),
    ];
    roles.extend(
        Flow::ALL
            .iter()
            .map(|f| (f.as_str().to_string(), f.as_str().to_string())),
    );
    roles.into_iter().find_map(|(suffix, part)| {
        let marketplace = name.strip_suffix(&suffix)?.strip_suffix('-')?;
        (!marketplace.is_empty()).then(|| {
            let name = decode_token(marketplace).unwrap_or_else(|| marketplace.to_string());
            (name, part)
        })
    })
}

/// The status lines from consumers, polling cursors (`(marketplace, flow, last advanced)`) and dead-letter
/// counts per `(marketplace, flow)`. Dead letters of a flow are shown on its first line.
pub fn assemble(
    consumers: &[ConsumerSnapshot],
    cursors: &[(String, String, DateTime<Utc>)],
    dead_letters: &BTreeMap<(String, String), u64>,
) -> Vec<FlowStatus> {
    let mut rows: BTreeMap<(String, String), FlowStatus> = BTreeMap::new();
    for c in consumers {
        let Some((marketplace, part)) = consumer_role(&c.name) else {
            continue;
        };
        rows.insert(
            (marketplace.clone(), part.clone()),
            FlowStatus {
                marketplace,
                part,
                pending: c.pending,
                ack_pending: c.ack_pending,
                redelivered: c.redelivered,
                dead_letters: 0,
                last_success: c.last_ack,
            },
        );
    }
    for (marketplace, flow, at) in cursors {
        let part = if flow == "orders" {
            "orders in".to_string()
        } else {
            flow.clone()
        };
        let row = rows
            .entry((marketplace.clone(), part.clone()))
            .or_insert_with(|| FlowStatus {
                marketplace: marketplace.clone(),
                part,
                ..FlowStatus::default()
            });
        row.last_success = row.last_success.max(Some(*at));
    }
    for ((marketplace, flow), count) in dead_letters {
        let target = rows
            .values_mut()
            .find(|r| r.marketplace == *marketplace && r.part.starts_with(flow.as_str()));
        match target {
            Some(row) => row.dead_letters += count,
            None => {
                rows.insert(
                    (marketplace.clone(), flow.clone()),
                    FlowStatus {
                        marketplace: marketplace.clone(),
                        part: flow.clone(),
                        dead_letters: *count,
                        ..FlowStatus::default()
                    },
                );
            }
        }
    }
    rows.into_values().collect()
}

pub fn render(rows: &[FlowStatus], heartbeats: &[Heartbeat], now: DateTime<Utc>) -> String {
    let ago = |t: Option<DateTime<Utc>>| match t {
        Some(t) => format!("{}s ago", (now - t).num_seconds().max(0)),
        None => "never".to_string(),
    };
    let mut table = Table::new([
        "MARKETPLACE",
        "FLOW",
        "PENDING",
        "IN FLIGHT",
        "REDELIVERED",
        "DEAD LETTERS",
        "LAST SUCCESS",
    ]);
    for r in rows {
        table.row([
            r.marketplace.clone(),
            r.part.clone(),
            r.pending.to_string(),
            r.ack_pending.to_string(),
            r.redelivered.to_string(),
            r.dead_letters.to_string(),
            ago(r.last_success),
        ]);
    }
    let mut out = if rows.is_empty() {
        "no Tradewind flows in this namespace (is --namespace right?)\n".to_string()
    } else {
        table.render(120)
    };
    if !heartbeats.is_empty() {
        let mut replicas = Table::new([
            "MARKETPLACE",
            "REPLICA",
            "READY",
            "SEEN",
            "CALLS",
            "THROTTLED",
            "FAILED",
            "OPEN BREAKERS",
        ]);
        for h in heartbeats {
            let sum = |f: fn(&adapter_runtime::jetstream::OperationStats) -> u64| {
                h.operations.iter().map(f).sum::<u64>()
            };
            let open: Vec<&str> = h
                .operations
                .iter()
                .filter(|o| o.breaker != "closed")
                .map(|o| o.operation.as_str())
                .collect();
            replicas.row([
                h.marketplace.clone(),
                h.replica.clone(),
                if h.ready { "yes" } else { "no" }.to_string(),
                ago(Some(h.at)),
                sum(|o| o.calls).to_string(),
                sum(|o| o.throttled).to_string(),
                sum(|o| o.failed).to_string(),
                if open.is_empty() {
                    "-".to_string()
                } else {
                    open.join(",")
                },
            ]);
        }
        let _ = writeln!(out);
        out.push_str(&replicas.render(120));
    }
    out
}

/// Reads everything the status shows from JetStream.
pub async fn run(nats: &NatsArgs) -> anyhow::Result<String> {
    let js = nats.connect().await?;
    let ns = Namespace::new(&nats.namespace);
    let prefix = format!(
        "TW_{}_",
        ns.dead_letter_stream()
            .name
            .trim_start_matches("TW_")
            .trim_end_matches("_DLQ")
    );
    let names: Vec<String> = js.stream_names().try_collect().await?;
    let mut consumers = Vec::new();
    for name in names.iter().filter(|n| n.starts_with(&prefix)) {
        let stream = js.get_stream(name).await?;
        let infos: Vec<jetstream::consumer::Info> = stream.consumers().try_collect().await?;
        for info in infos {
            consumers.push(ConsumerSnapshot {
                name: info.name.clone(),
                pending: info.num_pending,
                ack_pending: u64::try_from(info.num_ack_pending).unwrap_or(0),
                redelivered: u64::try_from(info.num_redelivered).unwrap_or(0),
                last_ack: info.ack_floor.last_active.and_then(to_chrono),
            });
        }
    }
    let mut cursors = Vec::new();
    if let Ok(kv) = js.get_key_value(&ns.cursor_bucket().bucket).await {
        let keys: Vec<String> = kv.keys().await?.try_collect().await?;
        for key in keys {
            if let Ok(Some(entry)) = kv.entry(&key).await
                && let Some((marketplace, flow)) = key.rsplit_once('.')
                && let Some(at) = to_chrono(entry.created)
            {
                cursors.push((
                    decode_token(&marketplace.replace('=', "~"))
                        .unwrap_or_else(|| marketplace.to_string()),
                    flow.to_string(),
                    at,
                ));
            }
        }
    }
    let mut dead_letters: BTreeMap<(String, String), u64> = BTreeMap::new();
    if js.get_stream(&ns.dead_letter_stream().name).await.is_ok() {
        let store = DeadLetterStore::new(js.clone(), ns.clone());
        for d in store.list(None, None).await? {
            *dead_letters
                .entry((d.letter.marketplace.clone(), d.letter.flow.to_string()))
                .or_default() += 1;
        }
    }
    let heartbeats = match js.get_key_value(&ns.heartbeat_bucket().bucket).await {
        Ok(kv) => Heartbeats::new(kv).all().await?,
        Err(_) => Vec::new(),
    };
    Ok(render(
        &assemble(&consumers, &cursors, &dead_letters),
        &heartbeats,
        Utc::now(),
    ))
}

fn to_chrono(t: time::OffsetDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, s).unwrap()
    }

    #[test]
    fn consumer_names_give_marketplace_and_part_even_with_dashes() {
        assert_eq!(
            consumer_role("amazon-us-inventory"),
            Some(("amazon-us".into(), "inventory".into()))
        );
        assert_eq!(
            consumer_role("walmart-us-order-process"),
            Some(("walmart-us".into(), "orders to ERP".into()))
        );
        assert_eq!(consumer_role("inventory"), None);
        assert_eq!(consumer_role("something-else"), None);
    }

    #[test]
    fn rows_join_consumers_cursors_and_dead_letters() {
        let consumers = vec![ConsumerSnapshot {
            name: "amazon-us-inventory".into(),
            pending: 7,
            ack_pending: 2,
            redelivered: 1,
            last_ack: Some(at(5)),
        }];
        let cursors = vec![("amazon-us".to_string(), "orders".to_string(), at(9))];
        let dead = BTreeMap::from([
            (("amazon-us".to_string(), "inventory".to_string()), 3),
            (("amazon-us".to_string(), "settlements".to_string()), 1),
        ]);
        let rows = assemble(&consumers, &cursors, &dead);
        let find = |part: &str| rows.iter().find(|r| r.part == part).unwrap();
        assert_eq!(find("inventory").pending, 7);
        assert_eq!(find("inventory").dead_letters, 3);
        assert_eq!(find("orders in").last_success, Some(at(9)));
        assert_eq!(find("settlements").dead_letters, 1);
        assert_eq!(rows.len(), 3);
    }
}
