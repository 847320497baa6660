//! `twctl trace <correlation id>`: one business transaction's timeline (received, validated, posted to the ERP,
//! acknowledged, shipped, confirmed, settled), with any dead letter that carries its correlation id.

use std::fmt::Write as _;

use adapter_runtime::canonical::CorrelationId;
use adapter_runtime::envelope::H_CORRELATION_ID;
use adapter_runtime::jetstream::{DeadLetterStore, StoredDeadLetter, Timeline, TimelineEntry};
use adapter_runtime::topology::Namespace;

use crate::nats::NatsArgs;
use crate::table::Table;

pub async fn run(nats: &NatsArgs, id: &str) -> anyhow::Result<(String, bool)> {
    let id = CorrelationId::try_from(id).map_err(|e| anyhow::anyhow!("correlation id: {e}"))?;
    let js = nats.connect().await?;
    let ns = Namespace::new(&nats.namespace);
    let entries = match js.get_key_value(&ns.timeline_bucket().bucket).await {
        Ok(kv) => Timeline::new(kv).get(&id).await?,
        Err(_) => Vec::new(),
    };
    let letters: Vec<StoredDeadLetter> =
        if js.get_stream(&ns.dead_letter_stream().name).await.is_ok() {
            DeadLetterStore::new(js.clone(), ns.clone())
                .list(None, None)
                .await?
                .into_iter()
                .filter(|d| {
                    d.letter.headers.get(H_CORRELATION_ID).map(String::as_str) == Some(id.as_str())
                })
                .collect()
        } else {
            Vec::new()
        };
    let found = !entries.is_empty() || !letters.is_empty();
    Ok((render(&id, &entries, &letters), found))
}

pub fn render(
    id: &CorrelationId,
    entries: &[TimelineEntry],
    letters: &[StoredDeadLetter],
) -> String {
    if entries.is_empty() && letters.is_empty() {
        return format!(
            "no transaction {id} in this namespace (timelines are kept 90 days; is --namespace right?)\n"
        );
    }
    let mut out = format!("transaction {id}\n");
    let mut table = Table::new(["AT (UTC)", "STEP", "BY", "DETAIL"]);
    for e in entries {
        table.row([
            e.at.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
            serde_json::to_value(e.step)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            e.by.clone(),
            e.detail.clone(),
        ]);
    }
    out.push_str(&table.render(120));
    for d in letters {
        let _ = writeln!(
            out,
            "dead letter {} ({} {}, {}): {}  — `twctl dlq show {}`",
            d.sequence,
            d.letter.marketplace,
            d.letter.flow,
            d.letter.class,
            d.letter.reason,
            d.sequence
        );
    }
    out
}
