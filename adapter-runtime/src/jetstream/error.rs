use std::fmt::Display;

/// A JetStream operation that failed, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action}: {message}")]
    Nats { action: String, message: String },
    #[error("{action}: {message}")]
    Data { action: String, message: String },
    #[error("{action}: gave up after {attempts} concurrent updates")]
    Contended { action: String, attempts: u32 },
}

impl Error {
    pub(crate) fn nats(action: impl Into<String>, error: impl Display) -> Self {
        Error::Nats {
            action: action.into(),
            message: error.to_string(),
        }
    }

    pub(crate) fn data(action: impl Into<String>, error: impl Display) -> Self {
        Error::Data {
            action: action.into(),
            message: error.to_string(),
        }
    }
}
