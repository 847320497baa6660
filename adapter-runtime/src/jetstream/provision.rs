//! Creating and updating streams, consumers and KV buckets idempotently.

use async_nats::jetstream::{self, consumer, kv, stream};

use super::Error;
use crate::topology::{ConsumerDef, KvDef, Retention, StreamDef};

/// The async-nats configuration of a stream definition.
pub fn stream_config(def: &StreamDef) -> stream::Config {
    stream::Config {
        name: def.name.clone(),
        subjects: def.subjects.clone(),
        retention: match def.retention {
            Retention::Limits => stream::RetentionPolicy::Limits,
        },
        max_messages_per_subject: def.max_msgs_per_subject.unwrap_or(-1),
        max_age: def.max_age.unwrap_or_default(),
        duplicate_window: def.duplicate_window,
        max_message_size: def.max_msg_size,
        storage: stream::StorageType::File,
        discard: stream::DiscardPolicy::Old,
        allow_direct: true,
        ..Default::default()
    }
}

/// Creates the stream, or updates it when its configuration differs from the definition.
pub async fn ensure_stream(js: &jetstream::Context, def: &StreamDef) -> Result<(), Error> {
    let wanted = stream_config(def);
    let action = || format!("ensuring stream {}", def.name);
    match js.get_stream(&def.name).await {
        Ok(mut existing) => {
            let info = existing
                .info()
                .await
                .map_err(|e| Error::nats(action(), e))?;
            let current = &info.config;
            let differs = current.subjects != wanted.subjects
                || current.max_messages_per_subject != wanted.max_messages_per_subject
                || current.max_age != wanted.max_age
                || current.duplicate_window != wanted.duplicate_window
                || current.max_message_size != wanted.max_message_size;
            if differs {
                js.update_stream(wanted)
                    .await
                    .map_err(|e| Error::nats(action(), e))?;
            }
            Ok(())
        }
        Err(_) => js
            .create_stream(wanted)
            .await
            .map(|_| ())
            .map_err(|e| Error::nats(action(), e)),
    }
}

/// The async-nats configuration of a durable pull consumer.
pub fn consumer_config(def: &ConsumerDef) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(def.durable_name.clone()),
        filter_subjects: def.filter_subjects.clone(),
        ack_policy: consumer::AckPolicy::Explicit,
        max_ack_pending: def.max_ack_pending,
        ack_wait: def.ack_wait,
        max_deliver: def.max_deliver,
        deliver_policy: consumer::DeliverPolicy::All,
        ..Default::default()
    }
}

/// Creates the durable consumer, or updates its configuration (creating a consumer that exists with a
/// different configuration updates it on JetStream 2.10 and later).
pub async fn ensure_consumer(
    js: &jetstream::Context,
    def: &ConsumerDef,
) -> Result<consumer::Consumer<consumer::pull::Config>, Error> {
    let action = || format!("ensuring consumer {} on {}", def.durable_name, def.stream);
    let stream = js
        .get_stream(&def.stream)
        .await
        .map_err(|e| Error::nats(action(), e))?;
    stream
        .create_consumer(consumer_config(def))
        .await
        .map_err(|e| Error::nats(action(), e))
}

/// Opens the KV bucket, creating it when missing.
pub async fn ensure_kv(js: &jetstream::Context, def: &KvDef) -> Result<kv::Store, Error> {
    if let Ok(store) = js.get_key_value(&def.bucket).await {
        return Ok(store);
    }
    js.create_key_value(kv::Config {
        bucket: def.bucket.clone(),
        history: def.history,
        max_age: def.max_age.unwrap_or_default(),
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| Error::nats(format!("creating KV bucket {}", def.bucket), e))
}
