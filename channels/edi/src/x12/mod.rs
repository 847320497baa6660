//! ANSI X12 envelopes: the data model of one interchange (ISA/IEA) with its functional groups (GS/GE) and
//! transaction sets (ST/SE), a strict parser and a writer. Pure: bytes in, values out, and back.
//!
//! What is received is read with the delimiters its own ISA declares; what is written uses the trading
//! partner's. Every rejection names the segment (its position in the interchange, counting ISA as 1, and its
//! id) and, where one is at fault, the element (1-based, as in `BEG03`).

mod parse;
pub mod scan;
mod write;

use std::fmt;

pub use parse::{MAX_INTERCHANGE_BYTES, Parsed, RefusedSet, parse, parse_sets};
pub use write::write;

/// The version this connector speaks: ISA12 and GS08.
pub const ISA_VERSION: &str = "00401";
pub const GS_VERSION: &str = "004010";
/// The largest control number ISA13 and GS06 can carry (nine digits).
pub const MAX_CONTROL_NUMBER: u32 = 999_999_999;

/// The three delimiters of an interchange, each one character. 004010 has no repetition separator (ISA11 is
/// the standards identifier `U`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delimiters {
    pub element: char,
    pub component: char,
    pub segment: char,
}

impl Default for Delimiters {
    fn default() -> Self {
        Self {
            element: '*',
            component: '>',
            segment: '~',
        }
    }
}

impl Delimiters {
    /// Delimiters that can be written and read back: distinct, not letters or digits (which data uses), not a
    /// space (which pads ISA fields), ASCII.
    pub fn check(&self) -> Result<(), String> {
        let all = [
            ("element separator", self.element),
            ("component separator", self.component),
            ("segment terminator", self.segment),
        ];
        for (name, c) in all {
            if !c.is_ascii() || c.is_ascii_alphanumeric() || c == ' ' {
                return Err(format!(
                    "{name} {c:?} must be an ASCII character other than a letter, a digit or a space"
                ));
            }
        }
        if self.element == self.component
            || self.element == self.segment
            || self.component == self.segment
        {
            return Err(format!(
                "delimiters must differ: element {:?}, component {:?}, segment {:?}",
                self.element, self.component, self.segment
            ));
        }
        Ok(())
    }

    fn contains(&self, c: char) -> bool {
        c == self.element || c == self.component || c == self.segment
    }

    /// True when a delimiter is a carriage return or line feed: line breaks are then data, not layout.
    pub fn contains_line_break(&self) -> bool {
        self.contains('\r') || self.contains('\n')
    }
}

/// One segment: its id and its elements, `elements[0]` being element 01. A composite element keeps its
/// component separators as [`COMPONENT`] so it is independent of the interchange's delimiters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub id: String,
    pub elements: Vec<String>,
}

/// The component separator inside [`Segment`] elements, whatever the interchange used: the unit separator,
/// which X12's character sets do not allow in data.
pub const COMPONENT: char = '\u{1f}';

impl Segment {
    pub fn new(id: &str, elements: &[&str]) -> Self {
        Self {
            id: id.to_string(),
            elements: elements.iter().map(|e| (*e).to_string()).collect(),
        }
    }

    /// Element `n` (1-based), empty when absent.
    pub fn get(&self, n: usize) -> &str {
        n.checked_sub(1)
            .and_then(|i| self.elements.get(i))
            .map_or("", String::as_str)
    }

    /// Drops trailing empty elements, as X12 requires of what is written.
    pub fn trimmed(mut self) -> Self {
        while self.elements.last().is_some_and(String::is_empty) {
            self.elements.pop();
        }
        self
    }
}

/// The ISA header's fields other than delimiters and the control number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterchangeHeader {
    /// ISA01/ISA02 (authorization) and ISA03/ISA04 (security): `00` and blanks unless a partner asks.
    pub authorization_qualifier: String,
    pub authorization: String,
    pub security_qualifier: String,
    pub security: String,
    /// ISA05/ISA06, ISA07/ISA08, without their padding.
    pub sender_qualifier: String,
    pub sender_id: String,
    pub receiver_qualifier: String,
    pub receiver_id: String,
    /// ISA09 YYMMDD and ISA10 HHMM.
    pub date: String,
    pub time: String,
    /// ISA13.
    pub control_number: u32,
    /// ISA14: a TA1 is requested.
    pub acknowledgement_requested: bool,
    /// ISA15: `P` production, `T` test.
    pub usage: char,
}

/// One interchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interchange {
    pub header: InterchangeHeader,
    pub delimiters: Delimiters,
    pub groups: Vec<Group>,
}

/// One functional group (GS..GE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// GS01: `IB` 846, `PO` 850, `PR` 855, `SH` 856, `IN` 810, `FA` 997.
    pub functional_id: String,
    /// GS02, GS03.
    pub sender_code: String,
    pub receiver_code: String,
    /// GS04 CCYYMMDD, GS05 HHMM[SS[D..]].
    pub date: String,
    pub time: String,
    /// GS06.
    pub control_number: u32,
    /// GS08, `004010` (a partner may add an implementation suffix).
    pub version: String,
    pub transactions: Vec<Transaction>,
}

/// One transaction set (ST..SE); `segments` are those between ST and SE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// ST01: `846`, `850`, ...
    pub set_id: String,
    /// ST02, 4 to 9 characters, unique within its group.
    pub control_number: String,
    pub segments: Vec<Segment>,
}

/// The functional identifier code (GS01) of a transaction set.
pub fn functional_id(set_id: &str) -> Option<&'static str> {
    Some(match set_id {
        "846" => "IB",
        "850" => "PO",
        "855" => "PR",
        "856" => "SH",
        "810" => "IN",
        "997" => "FA",
        _ => return None,
    })
}

/// Why an interchange was rejected, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct X12Error {
    /// Position of the segment in the interchange, ISA being 1 (0: before any segment).
    pub segment: usize,
    /// The segment's id as read (empty when none could be read).
    pub segment_id: String,
    /// The element at fault, 1-based, when one is.
    pub element: Option<usize>,
    pub reason: String,
    /// What kind of fault it is, where a 997 tells them apart.
    pub fault: Fault,
}

/// The faults a 997 reports with their own codes; the rest are syntax errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    #[default]
    Syntax,
    /// An element holds a control character (AK4 code 6, invalid character).
    ControlCharacter,
    /// A transaction set has no SE trailer (AK5 code 2).
    TrailerMissing,
}

impl X12Error {
    pub fn new(segment: usize, segment_id: &str, element: Option<usize>, reason: String) -> Self {
        Self {
            segment,
            segment_id: segment_id.chars().take(8).collect(),
            element,
            reason,
            fault: Fault::Syntax,
        }
    }

    /// The same error, of `fault`.
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }
}

impl fmt::Display for X12Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "segment {}", self.segment)?;
        if !self.segment_id.is_empty() {
            write!(f, " ({})", self.segment_id)?;
        }
        if let Some(element) = self.element {
            write!(f, ", element {element:02}")?;
            if !self.segment_id.is_empty() {
                write!(f, " ({}{element:02})", self.segment_id)?;
            }
        }
        write!(f, ": {}", self.reason)
    }
}
