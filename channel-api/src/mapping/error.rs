//! What can go wrong: a mapping that does not compile (reported once, when the resource is reconciled) and a
//! record that a compiled mapping cannot map (reported per record, sending it to the dead-letter stream).

use std::fmt;
use std::sync::Arc;

use crds::channel::Flow;
use crds::v1alpha1::MappingError;

/// One problem in a `ChannelMapping`, located by its path in the resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// `metadata.name` of the `ChannelMapping`.
    pub mapping: String,
    /// The flow the problem is in; `None` for problems of `spec.valueMaps` or `spec.skuCrossReference`.
    pub flow: Option<Flow>,
    /// Where in the resource, for example `spec.flows[0].fields[2].expression`.
    pub field_path: String,
    /// The target field whose mapping is wrong, when the problem is in one.
    pub target: Option<String>,
    /// What is wrong, with the CEL parser's or the type checker's words.
    pub message: String,
}

impl CompileError {
    /// The entry for `ChannelMappingStatus.errors`, which only lists problems of a flow's field.
    pub fn to_status(&self) -> Option<MappingError> {
        Some(MappingError {
            field_path: self.field_path.clone(),
            flow: self.flow?,
            target: self.target.clone()?,
            message: self.message.clone(),
        })
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelMapping/{}: {}", self.mapping, self.field_path)?;
        match (self.flow, &self.target) {
            (Some(flow), Some(target)) => write!(f, " ({flow} -> {target})")?,
            (Some(flow), None) => write!(f, " ({flow})")?,
            _ => {}
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for CompileError {}

/// Why one record could not be mapped. The record goes to the dead-letter stream with this error; the flow
/// carries on with the next record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordError {
    /// `metadata.name` of the `ChannelMapping`.
    pub mapping: Arc<str>,
    pub flow: Flow,
    /// The target field being computed.
    pub target: String,
    pub kind: RecordErrorKind,
}

/// What went wrong with a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordErrorKind {
    /// The expression read a field the record does not have, and the field mapping has no `default`.
    MissingField {
        /// The field as written in the expression where it can be told (`record.sale.price`), else its key.
        field: String,
    },
    /// A value map with `onMissing: Fail` has no entry for the value.
    UnmappedValue { map: String, value: String },
    /// Any other evaluation failure: a failed conversion (`int('abc')`), a type mismatch, a division by zero.
    Evaluation { message: String },
    /// The expression's result has no JSON form (bytes, a non-finite number).
    Output { message: String },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ChannelMapping/{}: {} -> {}: ",
            self.mapping, self.flow, self.target
        )?;
        match &self.kind {
            RecordErrorKind::MissingField { field } => write!(
                f,
                "the record has no field {field} and the mapping gives no default"
            ),
            RecordErrorKind::UnmappedValue { map, value } => write!(
                f,
                "value map {map} has no entry for {value} (onMissing: Fail)"
            ),
            RecordErrorKind::Evaluation { message } => write!(f, "{message}"),
            RecordErrorKind::Output { message } => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for RecordError {}
