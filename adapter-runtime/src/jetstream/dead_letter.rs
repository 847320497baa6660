//! The dead-letter stream: a message that cannot succeed is stored with its original subject, headers and
//! payload plus why, and can be replayed to where it came from.
//!
//! Replay republishes under a new message id derived from the dead letter's own sequence, then deletes the dead
//! letter. Replaying the same dead letter twice is harmless: if the first replay got as far as publishing, the
//! second publish is dropped by JetStream's de-duplication; if it also deleted it, there is nothing left to
//! replay.

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

/// What replaying one dead letter did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayOutcome {
    Republished(PublishOutcome),
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

    /// Republishes a dead letter to its original subject with its original headers, then removes it.
    pub async fn replay(&self, sequence: u64) -> Result<ReplayOutcome, Error> {
        let stream = self.stream().await?;
        let Ok(message) = stream.get_raw_message(sequence).await else {
            return Ok(ReplayOutcome::NotFound);
        };
        let Some(letter) = parse(&from_header_map(&message.headers), message.payload.to_vec())
        else {
            return Err(Error::data(
                format!("replaying dead letter {sequence}"),
                "not a dead letter",
            ));
        };
        let mut headers = letter.headers.clone();
        let original_id = headers.get(H_MSG_ID).cloned().unwrap_or_default();
        headers.insert(H_MSG_ID.into(), format!("{original_id}:replay:{sequence}"));
        let outcome =
            publish_raw(&self.js, &letter.original_subject, &headers, letter.payload).await?;
        stream
            .delete_message(sequence)
            .await
            .map_err(|e| Error::nats(format!("removing replayed dead letter {sequence}"), e))?;
        Ok(ReplayOutcome::Republished(outcome))
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
