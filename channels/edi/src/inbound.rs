//! Reading the partner's folder on the orders poll: its 850s become orders, its 997s settle our interchanges,
//! unreadable files are rejected, and interchanges without a 997 past the deadline are reported.

use std::time::Duration;

use chrono::Utc;
use crds::channel::Flow;
use tracing::{info, warn};

use channel_api::canonical::Record;
use channel_api::connector::{ConnectorError, PollPage};

use crate::documents::{self, functional_ack};
use crate::transport::{ARCHIVE_DIR, REJECTED_DIR};
use crate::x12::{self, Group};
use crate::{EdiConnector, envelope};

impl EdiConnector {
    /// Interchanges past the acknowledgement deadline without a 997: dead-lettered and forgotten.
    pub async fn reconcile(&self) -> Result<usize, ConnectorError> {
        let links = self.links().await?;
        let overdue = links
            .state
            .overdue(self.partner.acknowledgement_deadline, Utc::now())
            .await
            .map_err(ConnectorError::retryable)?;
        for p in &overdue {
            let reason = format!(
                "interchange {:09} ({} {} set(s), file {}) sent {} has no 997 from {} after {}: the partner may \
                 not have received it (records: {})",
                p.control_number,
                p.sets,
                p.set_id,
                p.file,
                p.sent_at.to_rfc3339(),
                self.partner.partner_id,
                humanize(self.partner.acknowledgement_deadline),
                p.keys.join(", ")
            );
            let payload = serde_json::to_vec(p).unwrap_or_default();
            self.dead_letter(
                p.flow,
                format!(
                    "edi-unacknowledged:{}:{}",
                    self.marketplace, p.control_number
                ),
                reason,
                payload,
            )
            .await;
            links
                .state
                .acknowledged(p.control_number)
                .await
                .map_err(ConnectorError::retryable)?;
        }
        Ok(overdue.len())
    }

    /// Settles our interchanges with a partner's 997 group.
    async fn settle(&self, file: &str, group: &Group) -> Result<(), ConnectorError> {
        let links = self.links().await?;
        for set in &group.transactions {
            let ack = match functional_ack::read(set) {
                Ok(ack) => ack,
                Err(e) => {
                    self.dead_letter(
                        Flow::Orders,
                        format!(
                            "edi-bad-997:{}:{file}:{}",
                            self.marketplace, set.control_number
                        ),
                        format!("997 {} in file {file}: {e}", set.control_number),
                        Vec::new(),
                    )
                    .await;
                    continue;
                }
            };
            let pending = links
                .state
                .acknowledged(ack.group_control_number)
                .await
                .map_err(ConnectorError::retryable)?;
            match (pending, ack.status.accepted()) {
                (Some(p), true) => {
                    info!(marketplace = %self.marketplace, control = p.control_number, status = ack.status.code(), "interchange acknowledged");
                }
                (Some(p), false) => {
                    let sets: Vec<String> = ack
                        .rejected_sets
                        .iter()
                        .map(|(s, c, code)| format!("{s} {c} ({code})"))
                        .collect();
                    self.dead_letter(
                        p.flow,
                        format!("edi-rejected:{}:{}", self.marketplace, p.control_number),
                        format!(
                            "the partner rejected interchange {:09} ({} {} set(s), file {}): AK9 {}, sets {}; \
                             records: {}",
                            p.control_number,
                            p.sets,
                            p.set_id,
                            p.file,
                            ack.status.code(),
                            sets.join(", "),
                            p.keys.join(", ")
                        ),
                        serde_json::to_vec(&p).unwrap_or_default(),
                    )
                    .await;
                }
                (None, _) => {
                    info!(marketplace = %self.marketplace, group = ack.group_control_number, "997 for a group not awaiting one (already settled or reported)");
                }
            }
        }
        Ok(())
    }

    /// Reads one partner file: its orders, and what it settles. `Ok(None)`: nothing to publish (the file can be
    /// archived at once).
    async fn read_file(&self, name: &str, bytes: &[u8]) -> Result<Option<Vec<Record>>, FileError> {
        let parsed = match x12::parse_sets(bytes) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.answer_refused(name, bytes, &e).await?;
                return Err(FileError::Rejected(e.to_string()));
            }
        };
        let ic = &parsed.interchange;
        envelope::check_addressing(&self.partner, ic).map_err(FileError::Rejected)?;
        // Sets the reader refused: each dead-lettered where it is, and rejected in its group's 997.
        for r in &parsed.refused {
            self.dead_letter(
                Flow::Orders,
                format!(
                    "edi-refused-set:{}:{}:{}:{}",
                    self.marketplace,
                    ic.header.control_number,
                    r.group_control_number,
                    r.control_number
                ),
                format!(
                    "file {name}, interchange {:09}, set {} {}: {}",
                    ic.header.control_number, r.set_id, r.control_number, r.error
                ),
                bytes.to_vec(),
            )
            .await;
        }
        let mut records = Vec::new();
        let mut answers = Vec::new();
        for group in &ic.groups {
            let refused: Vec<&x12::RefusedSet> = parsed
                .refused
                .iter()
                .filter(|r| r.group_control_number == group.control_number)
                .collect();
            match group.functional_id.as_str() {
                "FA" => {
                    self.settle(name, group).await.map_err(FileError::Retry)?;
                    continue;
                }
                "PO" => {
                    let mut accepted = Vec::new();
                    for set in &group.transactions {
                        if set.set_id != "850" {
                            accepted.push(false);
                            continue;
                        }
                        match documents::purchase_order::to_order(
                            &self.marketplace,
                            self.currency,
                            group,
                            set,
                        ) {
                            Ok(order) => {
                                accepted.push(true);
                                records.push(Record::Order(Box::new(order)));
                            }
                            Err(e) => {
                                accepted.push(false);
                                self.dead_letter(
                                    Flow::Orders,
                                    format!(
                                        "edi-bad-850:{}:{}:{}:{}",
                                        self.marketplace,
                                        ic.header.control_number,
                                        group.control_number,
                                        set.control_number
                                    ),
                                    format!(
                                        "file {name}, interchange {:09}: {e}",
                                        ic.header.control_number
                                    ),
                                    bytes.to_vec(),
                                )
                                .await;
                            }
                        }
                    }
                    answers.push(functional_ack::answer(group, &accepted, &refused));
                }
                _ => {
                    let all = vec![true; group.transactions.len()];
                    answers.push(functional_ack::answer(group, &all, &refused));
                }
            }
        }
        if !answers.is_empty() {
            self.acknowledge_once(
                name,
                &ic.header.sender_id,
                ic.header.control_number,
                answers,
            )
            .await?;
        }
        Ok((!records.is_empty()).then_some(records))
    }

    /// A partner's file dead-lettered raw (refused, or with an 850 that could not be read), read again: its
    /// purchase orders, as a poll would publish them (no 997 is sent again; the file was answered when it
    /// arrived). An error names what still cannot be read.
    pub(crate) fn reread_orders(&self, bytes: &[u8]) -> Result<Vec<Record>, String> {
        let parsed = x12::parse_sets(bytes).map_err(|e| e.to_string())?;
        let ic = &parsed.interchange;
        envelope::check_addressing(&self.partner, ic)?;
        let mut records = Vec::new();
        for group in ic.groups.iter().filter(|g| g.functional_id == "PO") {
            for set in group.transactions.iter().filter(|s| s.set_id == "850") {
                let order = documents::purchase_order::to_order(
                    &self.marketplace,
                    self.currency,
                    group,
                    set,
                )
                .map_err(|e| format!("interchange {:09}: {e}", ic.header.control_number))?;
                records.push(Record::Order(Box::new(order)));
            }
        }
        if records.is_empty() {
            return Err(format!(
                "interchange {:09} holds no purchase order",
                ic.header.control_number
            ));
        }
        Ok(records)
    }

    /// Sends our 997 `bodies` for a partner interchange, unless it was answered already (a file read again).
    async fn acknowledge_once(
        &self,
        name: &str,
        sender: &str,
        number: u32,
        bodies: Vec<Vec<crate::x12::Segment>>,
    ) -> Result<(), FileError> {
        let links = self.links().await.map_err(FileError::Retry)?;
        let seen = links
            .state
            .was_received(sender, number)
            .await
            .map_err(|e| FileError::Retry(ConnectorError::retryable(e)))?;
        if seen {
            return Ok(());
        }
        // Sent before it is marked: a crash in between sends the 997 again, never not at all.
        self.send(Flow::Orders, "997", bodies, Vec::new())
            .await
            .map_err(|e| {
                FileError::Retry(ConnectorError::retryable(format!(
                    "the 997 for {name} could not be sent: {e}"
                )))
            })?;
        if let Err(e) = links.state.mark_received(sender, number).await {
            warn!(marketplace = %self.marketplace, file = name, error = %e, "997 sent, not recorded");
        }
        Ok(())
    }

    /// Answers an interchange the reader refused with 997s rejecting its groups and naming the error's set,
    /// segment and element, when its ISA is readable and it comes from the partner to us (otherwise there is no
    /// trustworthy envelope to answer; the file is only dead-lettered).
    async fn answer_refused(
        &self,
        name: &str,
        bytes: &[u8],
        error: &x12::X12Error,
    ) -> Result<(), FileError> {
        let Some(scanned) = x12::scan::scan(bytes) else {
            return Ok(());
        };
        let h = &scanned.header;
        if h.sender_id != self.partner.partner_id || h.receiver_id != self.partner.our_id {
            return Ok(());
        }
        let bodies = functional_ack::reject(&scanned, error);
        if bodies.is_empty() {
            return Ok(());
        }
        self.acknowledge_once(name, &h.sender_id, h.control_number, bodies)
            .await
    }

    pub(crate) async fn poll_orders(
        &self,
        cursor: Option<&str>,
    ) -> Result<PollPage, ConnectorError> {
        let dir = self.partner.inbound_dir.as_str();
        // The cursor names the file whose orders the last poll returned: they are published now.
        let cursor = cursor.filter(|c| !c.is_empty());
        if let Some(done) = cursor {
            self.guarded("receive", || self.transport.move_to(dir, done, ARCHIVE_DIR))
                .await?;
        }
        let files = self.guarded("receive", || self.transport.list(dir)).await?;
        for (i, name) in files.iter().enumerate() {
            let bytes = self
                .guarded("receive", || self.transport.get(dir, name))
                .await?;
            match self.read_file(name, &bytes).await {
                Ok(Some(records)) => {
                    return Ok(PollPage {
                        records,
                        next_cursor: Some(name.clone()),
                        more: i + 1 < files.len(),
                    });
                }
                Ok(None) => {
                    self.guarded("receive", || self.transport.move_to(dir, name, ARCHIVE_DIR))
                        .await?;
                }
                Err(FileError::Retry(e)) => return Err(e),
                Err(FileError::Rejected(reason)) => {
                    self.dead_letter(
                        Flow::Orders,
                        format!("edi-rejected-file:{}:{name}", self.marketplace),
                        format!(
                            "file {name} from {} rejected: {reason}",
                            self.partner.partner_id
                        ),
                        bytes.clone(),
                    )
                    .await;
                    self.guarded("receive", || {
                        self.transport.move_to(dir, name, REJECTED_DIR)
                    })
                    .await?;
                }
            }
        }
        // Every file read, so every 997 that has arrived has settled its interchange: what is still pending
        // past the deadline has not been acknowledged.
        if let Err(e) = self.reconcile().await {
            warn!(marketplace = %self.marketplace, error = %e, "997 reconciliation failed; will retry");
        }
        Ok(PollPage {
            records: Vec::new(),
            next_cursor: cursor.map(|_| String::new()),
            more: false,
        })
    }
}

/// Why a partner file was not read.
enum FileError {
    /// The file is not a usable interchange for us: moved to `rejected/` and dead-lettered.
    Rejected(String),
    /// Something on our side failed (NATS, the transport): the file stays and is read again.
    Retry(ConnectorError),
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}
