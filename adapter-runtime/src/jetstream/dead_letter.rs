//! The dead-letter stream: a message that cannot succeed is stored with its original subject, headers and
//! payload plus why, and can be replayed to where it came from.
//!
//! What a replay sends depends on what the dead letter holds ([`ReplayPlan`], docs/adapter.md "Replaying dead
//! letters"):
//! - a **record in its envelope** (CloudEvent headers: an ERP event a flow could not deliver, a channel order the
//!   order process refused, a record the ERP refused, a settlement with an exception) is republished to its
//!   subject, marked `tw-replay-for: <marketplace>` so that on a subject every marketplace reads (the ERP's
//!   inventory, prices, products) only the marketplace that failed takes it; a record of a last-value subject
//!   that a newer one has replaced since is not sent (the newer one went out after it);
//! - a **raw channel record** (no envelope: a connector could not read it from a poll, a push or a partner's
//!   file) is sent to the marketplace's adapter on its reread subject, where the connector reads it again;
//! - a **raw ERP record** read from the ERP's own NATS subject goes back to that subject (the bridge reads it
//!   again); one from the outbox table is rebuilt by the bridge's code and given to [`DeadLetterStore::replay_as`].
//!
//! Replay publishes under a new message id derived from the dead letter's own sequence, then deletes the dead
//! letter. Replaying the same dead letter twice is harmless: if the first replay got as far as publishing, the
//! second publish is dropped by JetStream's de-duplication; if it also deleted it, there is nothing left to
//! replay; and where the record goes, its idempotency keys (message ids that name the record, the ERP
//! contract's keys) make a second delivery none.

use std::fmt;

use async_nats::jetstream::{self, stream::Stream};
use chrono::{DateTime, Utc};
use crds::channel::Flow;

use super::{Error, PublishOutcome, from_header_map, publish_raw};
use crate::envelope::{H_MSG_ID, Headers};
use crate::topology::Namespace;

const H_SUBJECT: &str = "tw-dlq-subject";
const H_REASON: &str = "tw-dlq-reason";
const H_CLASS: &str = "tw-dlq-class";
const H_ATTEMPTS: &str = "tw-dlq-attempts";
const H_AT: &str = "tw-dlq-at";
const H_MARKETPLACE: &str = "tw-dlq-marketplace";
const H_FLOW: &str = "tw-dlq-flow";
/// The original message id, while the dead letter carries its own.
const H_ORIGINAL_ID: &str = "tw-dlq-msg-id";
/// Who dead-lettered it, when not the marketplace's adapter: `erp-bridge/<erp>`.
const H_BY: &str = "tw-dlq-by";
/// On a replayed record: the only marketplace whose flow takes it (others acknowledge it unsent).
pub const H_REPLAY_FOR: &str = "tw-replay-for";
/// On a raw record sent back to be read again: the subject of the record it belongs to.
pub const H_REREAD_SUBJECT: &str = "tw-reread-subject";

/// Why a message was dead-lettered, coarsely, for filtering and alerting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The message itself is unusable (not JSON, unknown type, invalid record).
    BadPayload,
    /// The mapping could not produce the channel's fields.
    Mapping,
    /// The channel or the ERP refused it for good (a 4xx that retrying cannot fix).
    Permanent,
    /// Retries were exhausted.
    Exhausted,
    /// The order process refused it (unknown SKU, wrong currency, totals, country not served).
    Business,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::BadPayload => "bad-payload",
            ErrorClass::Mapping => "mapping",
            ErrorClass::Permanent => "permanent",
            ErrorClass::Exhausted => "exhausted",
            ErrorClass::Business => "business",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Self::BadPayload,
            Self::Mapping,
            Self::Permanent,
            Self::Exhausted,
            Self::Business,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message that could not be processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub marketplace: String,
    pub flow: Flow,
    pub original_subject: String,
    /// The original headers, untouched.
    pub headers: Headers,
    pub payload: Vec<u8>,
    /// What went wrong, for a person.
    pub reason: String,
    pub class: ErrorClass,
    /// Deliveries attempted before giving up.
    pub attempts: u32,
    pub at: DateTime<Utc>,
}

/// A dead letter with its sequence in the dead-letter stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDeadLetter {
    pub sequence: u64,
    pub letter: DeadLetter,
}

impl DeadLetter {
    /// The record is in its CloudEvent envelope (as a flow consumed it), not raw as a channel or the ERP sent it.
    pub fn has_envelope(&self) -> bool {
        self.headers.contains_key(crate::envelope::H_SPEC_VERSION)
    }

    /// Read from the ERP (its outbox, its NATS subject), not from a marketplace: the sources' dead letters
    /// are filed under `erp:<erp>`.
    pub fn from_erp(&self) -> Option<&str> {
        self.marketplace.strip_prefix("erp:")
    }
}

/// Where a replay sends a dead letter, decided from what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayPlan {
    /// Republished to its original subject, for its marketplace only.
    Republish,
    /// Sent to the marketplace's adapter to be read again by the connector.
    Reread { subject: String },
    /// A raw outbox row: only the bridge's code can make a record of it ([`DeadLetterStore::replay_as`]).
    Rebuild,
}

impl ReplayPlan {
    pub fn of(namespace: &Namespace, letter: &DeadLetter) -> Self {
        if letter.has_envelope() {
            return ReplayPlan::Republish;
        }
        if letter.from_erp().is_some() {
            return if letter.original_subject.starts_with("outbox:") {
                ReplayPlan::Rebuild
            } else {
                ReplayPlan::Republish
            };
        }
        let key = letter
            .original_subject
            .rsplit('.')
            .next()
            .unwrap_or_default();
        ReplayPlan::Reread {
            subject: namespace.reread_subject(
                &letter.marketplace,
                letter.flow,
                &crate::subject::decode_token(key).unwrap_or_else(|| key.to_string()),
            ),
        }
    }
}

/// What replaying one dead letter did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayOutcome {
    Republished(PublishOutcome),
    /// Sent to the marketplace's adapter, whose connector reads it again.
    SentToReread(PublishOutcome),
    /// Not sent: a newer record replaced it on its last-value subject (at this stream sequence) and was sent
    /// after it; the dead letter is removed.
    Superseded {
        by: u64,
    },
    /// A raw outbox row: the caller rebuilds it with the bridge's code and calls
    /// [`DeadLetterStore::replay_as`]; nothing was sent.
    NeedsRebuild(Box<DeadLetter>),
    /// No dead letter has this sequence (already replayed, or expired).
    NotFound,
}

/// The dead letters of one namespace.
pub struct DeadLetterStore {
    js: jetstream::Context,
    namespace: Namespace,
    /// The ERP connection whose bridge writes through this store (its dead letters get a subject of their own).
    erp: Option<String>,
}

impl DeadLetterStore {
    pub fn new(js: jetstream::Context, namespace: Namespace) -> Self {
        Self {
            js,
            namespace,
            erp: None,
        }
    }

    /// The store of the ERP bridge of `erp`: its dead letters go to `Namespace::erp_dead_letter_subject` with
    /// a `tw-dlq-by: erp-bridge/<erp>` header, so the operator counts them for the ErpConnection apart from the
    /// adapter's (listing and replay treat them like any other).
    pub fn for_erp_bridge(js: jetstream::Context, namespace: Namespace, erp: &str) -> Self {
        Self {
            js,
            namespace,
            erp: Some(erp.to_string()),
        }
    }

    /// Stores a dead letter. Its original payload is kept as is, so a message that was too large for its
    /// stream is dead-lettered with its reason and without its payload.
    pub async fn put(&self, letter: &DeadLetter) -> Result<PublishOutcome, Error> {
        let mut headers = letter.headers.clone();
        headers.insert(H_SUBJECT.into(), letter.original_subject.clone());
        headers.insert(H_REASON.into(), single_line(&letter.reason));
        headers.insert(H_CLASS.into(), letter.class.as_str().into());
        headers.insert(H_ATTEMPTS.into(), letter.attempts.to_string());
        headers.insert(H_AT.into(), letter.at.to_rfc3339());
        headers.insert(H_MARKETPLACE.into(), letter.marketplace.clone());
        headers.insert(H_FLOW.into(), letter.flow.as_str().into());
        // The same message dead-lettered by the same marketplace flow after the same number of attempts is the
        // same dead letter (a crash between dead-lettering and acking must not store it twice). One ERP event
        // fans out to several marketplaces, so each has its own.
        if let Some(id) = letter.headers.get(H_MSG_ID) {
            headers.insert(H_ORIGINAL_ID.into(), id.clone());
            headers.insert(
                H_MSG_ID.into(),
                format!(
                    "dlq:{}:{}:{id}:{}",
                    letter.marketplace, letter.flow, letter.attempts
                ),
            );
        } else {
            headers.remove(H_MSG_ID);
        }
        let subject = match &self.erp {
            Some(erp) => {
                headers.insert(H_BY.into(), format!("erp-bridge/{erp}"));
                self.namespace
                    .erp_dead_letter_subject(erp, &letter.marketplace, letter.flow)
            }
            None => self
                .namespace
                .dead_letter_subject(&letter.marketplace, letter.flow),
        };
        let limit =
            usize::try_from(self.namespace.dead_letter_stream().max_msg_size).unwrap_or(usize::MAX);
        let payload = if letter.payload.len() + 64 * 1024 > limit {
            Vec::new()
        } else {
            letter.payload.clone()
        };
        publish_raw(&self.js, &subject, &headers, payload).await
    }

    async fn stream(&self) -> Result<Stream, Error> {
        let name = self.namespace.dead_letter_stream().name;
        self.js
            .get_stream(&name)
            .await
            .map_err(|e| Error::nats(format!("opening {name}"), e))
    }

    /// Every dead letter, optionally of one marketplace and flow, oldest first.
    pub async fn list(
        &self,
        marketplace: Option<&str>,
        flow: Option<Flow>,
    ) -> Result<Vec<StoredDeadLetter>, Error> {
        let mut stream = self.stream().await?;
        let info = stream
            .info()
            .await
            .map_err(|e| Error::nats("reading the dead-letter stream", e))?;
        let (first, last) = (info.state.first_sequence, info.state.last_sequence);
        let mut out = Vec::new();
        if info.state.messages == 0 {
            return Ok(out);
        }
        for sequence in first..=last {
            // Replayed dead letters are deleted; their sequences are gaps.
            let Ok(message) = stream.get_raw_message(sequence).await else {
                continue;
            };
            let Some(letter) = parse(&from_header_map(&message.headers), message.payload.to_vec())
            else {
                continue;
            };
            if marketplace.is_some_and(|m| m != letter.marketplace)
                || flow.is_some_and(|f| f != letter.flow)
            {
                continue;
            }
            out.push(StoredDeadLetter { sequence, letter });
        }
        Ok(out)
    }

    /// One dead letter, if it is there.
    pub async fn get(&self, sequence: u64) -> Result<Option<DeadLetter>, Error> {
        let stream = self.stream().await?;
        let Ok(message) = stream.get_raw_message(sequence).await else {
            return Ok(None);
        };
        parse(&from_header_map(&message.headers), message.payload.to_vec())
            .map(Some)
            .ok_or_else(|| {
                Error::data(
                    format!("reading dead letter {sequence}"),
                    "not a dead letter",
                )
            })
    }

    /// Replays a dead letter as its [`ReplayPlan`] says, then removes it (an outbox row is returned to the
    /// caller to rebuild: [`ReplayOutcome::NeedsRebuild`]).
    pub async fn replay(&self, sequence: u64) -> Result<ReplayOutcome, Error> {
        let Some(letter) = self.get(sequence).await? else {
            return Ok(ReplayOutcome::NotFound);
        };
        let mut headers = letter.headers.clone();
        let original_id = headers.get(H_MSG_ID).cloned().unwrap_or_default();
        headers.insert(H_MSG_ID.into(), format!("{original_id}:replay:{sequence}"));
        let outcome = match ReplayPlan::of(&self.namespace, &letter) {
            ReplayPlan::Rebuild => return Ok(ReplayOutcome::NeedsRebuild(Box::new(letter))),
            ReplayPlan::Republish => {
                if let Some(by) = self.superseded(&letter).await? {
                    self.remove(sequence).await?;
                    return Ok(ReplayOutcome::Superseded { by });
                }
                headers.insert(H_REPLAY_FOR.into(), letter.marketplace.clone());
                ReplayOutcome::Republished(
                    publish_raw(&self.js, &letter.original_subject, &headers, letter.payload)
                        .await?,
                )
            }
            ReplayPlan::Reread { subject } => {
                headers.insert(H_REREAD_SUBJECT.into(), letter.original_subject.clone());
                ReplayOutcome::SentToReread(
                    publish_raw(&self.js, &subject, &headers, letter.payload).await?,
                )
            }
        };
        self.remove(sequence).await?;
        Ok(outcome)
    }

    /// Publishes what the caller rebuilt from dead letter `sequence` (an outbox row made a record by the bridge's
    /// code), then removes it. The message id should name the record, so that a second replay is dropped.
    pub async fn replay_as(
        &self,
        sequence: u64,
        subject: &str,
        headers: &Headers,
        payload: Vec<u8>,
    ) -> Result<ReplayOutcome, Error> {
        let outcome = publish_raw(&self.js, subject, headers, payload).await?;
        self.remove(sequence).await?;
        Ok(ReplayOutcome::Republished(outcome))
    }

    async fn remove(&self, sequence: u64) -> Result<(), Error> {
        let stream = self.stream().await?;
        stream
            .delete_message(sequence)
            .await
            .map(|_| ())
            .map_err(|e| Error::nats(format!("removing replayed dead letter {sequence}"), e))
    }

    /// The stream sequence of the newer record that replaced this one on its subject, when the subject keeps
    /// only its last record (the ERP's inventory, prices, products) and that record is another event.
    async fn superseded(&self, letter: &DeadLetter) -> Result<Option<u64>, Error> {
        let Some(id) = letter.headers.get(crate::envelope::H_ID) else {
            return Ok(None);
        };
        let Ok(name) = self.js.stream_by_subject(&letter.original_subject).await else {
            return Ok(None); // no stream takes it: the publish says so
        };
        let mut stream = self
            .js
            .get_stream(&name)
            .await
            .map_err(|e| Error::nats(format!("opening {name}"), e))?;
        let info = stream
            .info()
            .await
            .map_err(|e| Error::nats(format!("reading {name}"), e))?;
        if info.config.max_messages_per_subject != 1 {
            return Ok(None);
        }
        let Ok(last) = stream
            .get_last_raw_message_by_subject(&letter.original_subject)
            .await
        else {
            return Ok(None);
        };
        let last_id = from_header_map(&last.headers)
            .get(crate::envelope::H_ID)
            .cloned();
        Ok((last_id.as_ref() != Some(id)).then_some(last.sequence))
    }
}

/// Header values are one line.
fn single_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

fn parse(all: &Headers, payload: Vec<u8>) -> Option<DeadLetter> {
    let flow = Flow::ALL
        .into_iter()
        .find(|f| Some(f.as_str()) == all.get(H_FLOW).map(String::as_str))?;
    let mut headers = all.clone();
    let mut take = |name: &str| headers.remove(name);
    let original_subject = take(H_SUBJECT)?;
    let reason = take(H_REASON).unwrap_or_default();
    let class = take(H_CLASS).and_then(|c| ErrorClass::parse(&c))?;
    let attempts = take(H_ATTEMPTS).and_then(|a| a.parse().ok()).unwrap_or(0);
    let at = take(H_AT)
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())?
        .with_timezone(&Utc);
    let marketplace = take(H_MARKETPLACE)?;
    take(H_FLOW);
    take(H_BY);
    // The dead letter's own message id replaced the original one; restore the original.
    match take(H_ORIGINAL_ID) {
        Some(original) => headers.insert(H_MSG_ID.into(), original),
        None => headers.remove(H_MSG_ID),
    };
    Some(DeadLetter {
        marketplace,
        flow,
        original_subject,
        headers,
        payload,
        reason,
        class,
        attempts,
        at,
    })
}
