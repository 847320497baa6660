//! The strict reader: one interchange from bytes, every count and control number checked against its trailer.

use std::collections::HashSet;

use super::{
    COMPONENT, Delimiters, Fault, GS_VERSION, Group, ISA_VERSION, Interchange, InterchangeHeader,
    Segment, Transaction, X12Error, functional_id,
};

/// Larger interchanges are refused before they are read (a partner's largest 846 is a few MiB).
pub const MAX_INTERCHANGE_BYTES: usize = 16 * 1024 * 1024;

/// ISA is fixed length: these are its elements' widths, ISA01 to ISA16.
const ISA_WIDTHS: [usize; 16] = [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1];
/// "ISA", the separators and the terminator around those widths.
pub(super) const ISA_LENGTH: usize = 106;

/// Reads one interchange. Leading whitespace (and a UTF-8 byte-order mark) is skipped, as is a line break
/// after each segment terminator; anything else that is not X12 is an error naming where it is, including a
/// transaction set in error.
pub fn parse(input: &[u8]) -> Result<Interchange, X12Error> {
    let parsed = parse_sets(input)?;
    match parsed.refused.into_iter().next() {
        Some(refused) => Err(refused.error),
        None => Ok(parsed.interchange),
    }
}

/// A transaction set left out of a [`Parsed`] interchange, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedSet {
    /// GS06 of its group.
    pub group_control_number: u32,
    /// ST01 and ST02 as read (possibly what was wrong).
    pub set_id: String,
    pub control_number: String,
    /// Position of its ST in the interchange.
    pub position: usize,
    pub error: X12Error,
}

/// An interchange whose envelopes are sound, with the transaction sets that are, and those refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub interchange: Interchange,
    pub refused: Vec<RefusedSet>,
}

/// Reads one interchange as [`parse`] does, except that an error inside a transaction set (a bad segment or
/// element, a wrong SE, a set without SE) refuses only that set: the others are read, as a translator
/// accepting part of a group does (its 997 says AK9 `P`). An error in the ISA, GS, GE or IEA, or in a segment
/// between them, still refuses the whole interchange.
pub fn parse_sets(input: &[u8]) -> Result<Parsed, X12Error> {
    if input.len() > MAX_INTERCHANGE_BYTES {
        return Err(X12Error::new(
            0,
            "",
            None,
            format!(
                "interchange of {} bytes is larger than the {} bytes accepted",
                input.len(),
                MAX_INTERCHANGE_BYTES
            ),
        ));
    }
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let start = input
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(input.len());
    let input = &input[start..];
    let (header, delimiters) = parse_isa(input)?;
    let rest = &input[ISA_LENGTH..];
    let text = std::str::from_utf8(rest).map_err(|e| {
        let before = &rest[..e.valid_up_to()];
        let segment = 2 + before
            .iter()
            .filter(|b| char::from(**b) == delimiters.segment)
            .count();
        X12Error::new(
            segment,
            "",
            None,
            format!("byte {} is not UTF-8 text", ISA_LENGTH + e.valid_up_to()),
        )
    })?;
    let segments = split_segments(text, &delimiters);
    let mut reader = Reader {
        segments,
        at: 0,
        delimiters,
        refused: Vec::new(),
    };
    let interchange = reader.interchange(header)?;
    Ok(Parsed {
        interchange,
        refused: reader.refused,
    })
}

fn isa_error(element: Option<usize>, reason: String) -> X12Error {
    X12Error::new(1, "ISA", element, reason)
}

pub(super) fn parse_isa(input: &[u8]) -> Result<(InterchangeHeader, Delimiters), X12Error> {
    if !input.starts_with(b"ISA") {
        return Err(X12Error::new(
            1,
            "",
            None,
            "an interchange must start with an ISA segment".into(),
        ));
    }
    if input.len() < ISA_LENGTH {
        return Err(isa_error(
            None,
            format!(
                "ISA must be {ISA_LENGTH} characters long, the interchange has only {}",
                input.len()
            ),
        ));
    }
    let isa = &input[..ISA_LENGTH];
    if let Some(at) = isa.iter().position(|b| !b.is_ascii()) {
        return Err(isa_error(
            None,
            format!("character {} of ISA is not ASCII", at + 1),
        ));
    }
    let element = char::from(isa[3]);
    let delimiters = Delimiters {
        element,
        component: char::from(isa[104]),
        segment: char::from(isa[105]),
    };
    // Every element at its fixed position, each preceded by the element separator: checked first, since the
    // other delimiters are read from fixed positions too.
    let mut at = 3;
    for (i, width) in ISA_WIDTHS.iter().enumerate() {
        let n = i + 1;
        if char::from(isa[at]) != element {
            return Err(isa_error(
                Some(n),
                format!(
                    "ISA{n:02} must start at character {} after the element separator {element:?} \
                     (ISA elements are fixed width)",
                    at + 2
                ),
            ));
        }
        at += 1 + width;
    }
    delimiters.check().map_err(|e| {
        isa_error(
            None,
            format!("the delimiters ISA declares are unusable: {e}"),
        )
    })?;
    let mut fields = Vec::with_capacity(16);
    let mut at = 3;
    for (i, width) in ISA_WIDTHS.iter().enumerate() {
        let n = i + 1;
        let value = &isa[at + 1..at + 1 + width];
        // The bytes are ASCII, so this cannot fail; a failure would be reported, not panicked on.
        let value =
            std::str::from_utf8(value).map_err(|_| isa_error(Some(n), "is not text".into()))?;
        if n < 16
            && let Some(c) = value
                .chars()
                .find(|c| delimiters.contains(*c) || c.is_ascii_control())
        {
            return Err(isa_error(
                Some(n),
                format!("ISA{n:02} {value:?} contains {c:?}, a delimiter or control character"),
            ));
        }
        fields.push(value);
        at += 1 + width;
    }
    let field = |n: usize| fields[n - 1];
    let check = |n: usize, ok: bool, wanted: &str| {
        if ok {
            Ok(())
        } else {
            Err(isa_error(
                Some(n),
                format!("ISA{n:02} {:?} must be {wanted}", field(n)),
            ))
        }
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let code = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    check(1, code(field(1)), "a 2-character qualifier")?;
    check(3, code(field(3)), "a 2-character qualifier")?;
    check(5, code(field(5)), "a 2-character id qualifier")?;
    check(7, code(field(7)), "a 2-character id qualifier")?;
    check(6, !field(6).trim().is_empty(), "the sender's id, not blank")?;
    check(
        8,
        !field(8).trim().is_empty(),
        "the receiver's id, not blank",
    )?;
    check(9, digits(field(9)), "a date YYMMDD")?;
    check(10, digits(field(10)), "a time HHMM")?;
    check(11, field(11) == "U", "U (004010's standards identifier)")?;
    check(12, field(12) == ISA_VERSION, "00401 (version 004010)")?;
    check(13, digits(field(13)), "a 9-digit control number")?;
    check(14, matches!(field(14), "0" | "1"), "0 or 1")?;
    check(
        15,
        matches!(field(15), "P" | "T"),
        "P (production) or T (test)",
    )?;
    let control_number = field(13)
        .parse()
        .map_err(|e| isa_error(Some(13), format!("{:?}: {e}", field(13))))?;
    let header = InterchangeHeader {
        authorization_qualifier: field(1).to_string(),
        authorization: field(2).trim_end().to_string(),
        security_qualifier: field(3).to_string(),
        security: field(4).trim_end().to_string(),
        sender_qualifier: field(5).to_string(),
        sender_id: field(6).trim_end().to_string(),
        receiver_qualifier: field(7).to_string(),
        receiver_id: field(8).trim_end().to_string(),
        date: field(9).to_string(),
        time: field(10).to_string(),
        control_number,
        acknowledgement_requested: field(14) == "1",
        usage: if field(15) == "T" { 'T' } else { 'P' },
    };
    Ok((header, delimiters))
}

/// The segments after ISA, each split into its id and elements (or why it cannot be), numbered from 2. A bad
/// segment is kept as its error: inside a transaction set it refuses only that set.
fn split_segments(text: &str, d: &Delimiters) -> Vec<(usize, Result<Segment, X12Error>)> {
    let pieces: Vec<&str> = text.split(d.segment).collect();
    let last = pieces.len().saturating_sub(1);
    let mut out = Vec::with_capacity(pieces.len());
    for (i, raw) in pieces.into_iter().enumerate() {
        let position = i + 2;
        // A line break around a segment is layout, not data, unless the interchange uses it as a delimiter.
        let piece = raw.trim_matches(|c| (c == '\r' || c == '\n') && !d.contains(c));
        if piece.is_empty() && i == last {
            break;
        }
        out.push((position, segment(position, piece, d, i == last)));
    }
    out
}

fn segment(position: usize, piece: &str, d: &Delimiters, last: bool) -> Result<Segment, X12Error> {
    if piece.is_empty() {
        return Err(X12Error::new(
            position,
            "",
            None,
            "empty segment (two segment terminators in a row)".into(),
        ));
    }
    if last {
        return Err(X12Error::new(
            position,
            piece.split(d.element).next().unwrap_or(""),
            None,
            format!("the last segment is not terminated by {:?}", d.segment),
        ));
    }
    let mut parts = piece.split(d.element);
    let id = parts.next().unwrap_or("");
    let valid_id = (2..=3).contains(&id.len())
        && id.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !valid_id {
        return Err(X12Error::new(
            position,
            id,
            None,
            format!("{id:?} is not a segment id (2 or 3 upper-case letters and digits)"),
        ));
    }
    let mut elements = Vec::new();
    for (n, value) in parts.enumerate() {
        if let Some(c) = value.chars().find(|c| c.is_control() && *c != d.component) {
            return Err(X12Error::new(
                position,
                id,
                Some(n + 1),
                format!("contains the control character {c:?}"),
            )
            .with_fault(Fault::ControlCharacter));
        }
        elements.push(value.replace(d.component, &COMPONENT.to_string()));
    }
    Ok(Segment {
        id: id.to_string(),
        elements,
    })
}

struct Reader {
    segments: Vec<(usize, Result<Segment, X12Error>)>,
    at: usize,
    delimiters: Delimiters,
    refused: Vec<RefusedSet>,
}

impl Reader {
    /// The position a missing segment would have had.
    fn end_position(&self) -> usize {
        self.segments.last().map_or(2, |(p, _)| p + 1)
    }

    fn next(&mut self, wanted: &str) -> Result<(usize, Segment), X12Error> {
        let Some((position, found)) = self.segments.get(self.at).cloned() else {
            return Err(X12Error::new(
                self.end_position(),
                "",
                None,
                format!("the interchange ends where {wanted} was expected"),
            ));
        };
        self.at += 1;
        found.map(|segment| (position, segment))
    }

    /// The id of the next segment, `None` at the end (`Some("")` for a segment in error).
    fn peek_id(&self) -> Option<&str> {
        self.segments
            .get(self.at)
            .map(|(_, s)| s.as_ref().map_or("", |s| s.id.as_str()))
    }

    /// After a set in error: skips to just after its SE, or to the next envelope segment.
    fn skip_set(&mut self) {
        while let Some(id) = self.peek_id() {
            if matches!(id, "ST" | "GE" | "GS" | "IEA" | "ISA") {
                return;
            }
            let closes = id == "SE";
            self.at += 1;
            if closes {
                return;
            }
        }
    }

    fn interchange(&mut self, header: InterchangeHeader) -> Result<Interchange, X12Error> {
        let mut groups = Vec::new();
        let mut group_numbers = HashSet::new();
        loop {
            let (position, segment) = self.next("GS or IEA")?;
            match segment.id.as_str() {
                "GS" => {
                    let group = self.group(position, &segment)?;
                    if !group_numbers.insert(group.control_number) {
                        return Err(X12Error::new(
                            position,
                            "GS",
                            Some(6),
                            format!(
                                "group control number {} is used twice in this interchange",
                                group.control_number
                            ),
                        ));
                    }
                    groups.push(group);
                }
                "IEA" => {
                    elements_exactly(position, &segment, 2)?;
                    if groups.is_empty() {
                        return Err(X12Error::new(
                            position,
                            "IEA",
                            None,
                            "the interchange has no functional group".into(),
                        ));
                    }
                    expect_count(position, &segment, 1, groups.len())?;
                    let number = number(position, &segment, 2, 9)?;
                    if number != header.control_number || segment.get(2).len() != 9 {
                        return Err(X12Error::new(
                            position,
                            "IEA",
                            Some(2),
                            format!(
                                "IEA02 {:?} must repeat ISA13 {:09}",
                                segment.get(2),
                                header.control_number
                            ),
                        ));
                    }
                    if let Some((p, s)) = self.segments.get(self.at) {
                        return Err(match s {
                            Ok(s) => X12Error::new(
                                *p,
                                &s.id,
                                None,
                                "data after IEA: one file holds one interchange".into(),
                            ),
                            Err(e) => e.clone(),
                        });
                    }
                    return Ok(Interchange {
                        header,
                        delimiters: self.delimiters,
                        groups,
                    });
                }
                other => {
                    return Err(X12Error::new(
                        position,
                        other,
                        None,
                        format!("{other} where GS or IEA was expected"),
                    ));
                }
            }
        }
    }

    fn group(&mut self, gs_position: usize, gs: &Segment) -> Result<Group, X12Error> {
        elements_exactly(gs_position, gs, 8)?;
        let text = |n: usize, min: usize, max: usize| {
            let v = gs.get(n);
            if (min..=max).contains(&v.len()) {
                Ok(v.to_string())
            } else {
                Err(X12Error::new(
                    gs_position,
                    "GS",
                    Some(n),
                    format!("GS{n:02} {v:?} must be {min} to {max} characters"),
                ))
            }
        };
        let functional = text(1, 2, 2)?;
        let sender_code = text(2, 2, 15)?;
        let receiver_code = text(3, 2, 15)?;
        let date = text(4, 8, 8)?;
        let time = text(5, 4, 8)?;
        for n in [4, 5] {
            if !gs.get(n).bytes().all(|b| b.is_ascii_digit()) {
                return Err(X12Error::new(
                    gs_position,
                    "GS",
                    Some(n),
                    format!("GS{n:02} {:?} must be digits", gs.get(n)),
                ));
            }
        }
        let control_number = number(gs_position, gs, 6, 9)?;
        if gs.get(7) != "X" {
            return Err(X12Error::new(
                gs_position,
                "GS",
                Some(7),
                format!("GS07 {:?} must be X (ASC X12)", gs.get(7)),
            ));
        }
        let version = text(8, 6, 12)?;
        if !version.starts_with(GS_VERSION) {
            return Err(X12Error::new(
                gs_position,
                "GS",
                Some(8),
                format!("GS08 {version:?} must be 004010 (with an optional suffix)"),
            ));
        }
        let mut transactions = Vec::new();
        let mut numbers = HashSet::new();
        // Sets of this group refused (and recorded in `self.refused`): they count in GE01.
        let mut refused_here = 0;
        loop {
            let (position, segment) = self.next("ST or GE")?;
            match segment.id.as_str() {
                "ST" => {
                    let read = self.transaction(position, &segment, &functional);
                    let error = match read {
                        Ok(t) if numbers.insert(t.control_number.clone()) => {
                            transactions.push(t);
                            continue;
                        }
                        Ok(t) => X12Error::new(
                            position,
                            "ST",
                            Some(2),
                            format!(
                                "transaction set control number {} is used twice in this group",
                                t.control_number
                            ),
                        ),
                        Err(error) => {
                            self.skip_set();
                            error
                        }
                    };
                    refused_here += 1;
                    self.refused.push(RefusedSet {
                        group_control_number: control_number,
                        set_id: segment.get(1).to_string(),
                        control_number: segment.get(2).to_string(),
                        position,
                        error,
                    });
                }
                "GE" => {
                    elements_exactly(position, &segment, 2)?;
                    if transactions.is_empty() && refused_here == 0 {
                        return Err(X12Error::new(
                            position,
                            "GE",
                            None,
                            "the functional group has no transaction set".into(),
                        ));
                    }
                    expect_count(position, &segment, 1, transactions.len() + refused_here)?;
                    if number(position, &segment, 2, 9)? != control_number {
                        return Err(X12Error::new(
                            position,
                            "GE",
                            Some(2),
                            format!(
                                "GE02 {:?} must repeat GS06 {control_number}",
                                segment.get(2)
                            ),
                        ));
                    }
                    return Ok(Group {
                        functional_id: functional,
                        sender_code,
                        receiver_code,
                        date,
                        time,
                        control_number,
                        version,
                        transactions,
                    });
                }
                other => {
                    return Err(X12Error::new(
                        position,
                        other,
                        None,
                        format!("{other} where ST or GE was expected"),
                    ));
                }
            }
        }
    }

    fn transaction(
        &mut self,
        st_position: usize,
        st: &Segment,
        functional: &str,
    ) -> Result<Transaction, X12Error> {
        elements_exactly(st_position, st, 2)?;
        let set_id = st.get(1);
        if set_id.len() != 3 || !set_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(X12Error::new(
                st_position,
                "ST",
                Some(1),
                format!("ST01 {set_id:?} must be a 3-digit transaction set id"),
            ));
        }
        if let Some(expected) = functional_id(set_id)
            && expected != functional
        {
            return Err(X12Error::new(
                st_position,
                "ST",
                Some(1),
                format!(
                    "a {set_id} belongs in a group of functional id {expected}, not {functional}"
                ),
            ));
        }
        let control = st.get(2);
        if !(4..=9).contains(&control.len()) || !control.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(X12Error::new(
                st_position,
                "ST",
                Some(2),
                format!("ST02 {control:?} must be 4 to 9 letters or digits"),
            ));
        }
        let mut segments = Vec::new();
        loop {
            // An envelope segment ends the set without SE; it is left for the group to read.
            match self.segments.get(self.at) {
                None => {
                    return Err(X12Error::new(
                        self.end_position(),
                        "",
                        None,
                        format!(
                            "the interchange ends inside transaction set {control} (SE missing)"
                        ),
                    )
                    .with_fault(Fault::TrailerMissing));
                }
                Some((position, Ok(next)))
                    if matches!(next.id.as_str(), "ISA" | "IEA" | "GS" | "GE" | "ST") =>
                {
                    return Err(X12Error::new(
                        *position,
                        &next.id,
                        None,
                        format!("{} inside transaction set {control} (SE missing)", next.id),
                    )
                    .with_fault(Fault::TrailerMissing));
                }
                Some(_) => {}
            }
            let (position, segment) = self.next("SE")?;
            if segment.id != "SE" {
                segments.push(segment);
                continue;
            }
            elements_exactly(position, &segment, 2)?;
            expect_count(position, &segment, 1, segments.len() + 2)?;
            if segment.get(2) != control {
                return Err(X12Error::new(
                    position,
                    "SE",
                    Some(2),
                    format!("SE02 {:?} must repeat ST02 {control:?}", segment.get(2)),
                ));
            }
            return Ok(Transaction {
                set_id: set_id.to_string(),
                control_number: control.to_string(),
                segments,
            });
        }
    }
}

fn elements_exactly(position: usize, segment: &Segment, count: usize) -> Result<(), X12Error> {
    if segment.elements.len() == count {
        Ok(())
    } else {
        Err(X12Error::new(
            position,
            &segment.id,
            Some(segment.elements.len().min(count) + 1),
            format!(
                "{} must have {count} elements, it has {}",
                segment.id,
                segment.elements.len()
            ),
        ))
    }
}

/// Element `n` as a number of at most `digits` digits.
fn number(position: usize, segment: &Segment, n: usize, digits: usize) -> Result<u32, X12Error> {
    let v = segment.get(n);
    if v.is_empty() || v.len() > digits || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(X12Error::new(
            position,
            &segment.id,
            Some(n),
            format!("{}{n:02} {v:?} must be 1 to {digits} digits", segment.id),
        ));
    }
    v.parse()
        .map_err(|e| X12Error::new(position, &segment.id, Some(n), format!("{v:?}: {e}")))
}

/// Element `n` must state `count` (a trailer's count of what it closes).
fn expect_count(
    position: usize,
    segment: &Segment,
    n: usize,
    count: usize,
) -> Result<(), X12Error> {
    let stated = number(position, segment, n, 10)?;
    if usize::try_from(stated).ok() == Some(count) {
        Ok(())
    } else {
        Err(X12Error::new(
            position,
            &segment.id,
            Some(n),
            format!(
                "{}{n:02} states {stated}, but there are {count}",
                segment.id
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PO: &str = "ISA*00*          *00*          *ZZ*ACMERETAIL     *ZZ*TRADEWINDDIST  *260105*0930*U*00401*000000123*0*P*>~\n\
        GS*PO*ACMERETAIL*TRADEWINDDIST*20260105*0930*123*X*004010~\n\
        ST*850*0001~\n\
        BEG*00*SA*PO-1001**20260105~\n\
        PO1*1*2*EA*12.50**VN*0001001~\n\
        CTT*1~\n\
        SE*5*0001~\n\
        GE*1*123~\n\
        IEA*1*000000123~\n";

    fn error(text: &str) -> X12Error {
        match parse(text.as_bytes()) {
            Ok(ic) => panic!("accepted: {ic:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn reads_a_purchase_order_with_its_envelopes() {
        let ic = parse(PO.as_bytes()).expect("valid");
        assert_eq!(ic.header.sender_id, "ACMERETAIL");
        assert_eq!(ic.header.control_number, 123);
        let t = &ic.groups[0].transactions[0];
        assert_eq!((t.set_id.as_str(), t.segments.len()), ("850", 3));
        assert_eq!(t.segments[1].get(7), "0001001");
    }

    #[test]
    fn a_wrong_segment_count_names_se01() {
        let e = error(&PO.replace("SE*5*0001", "SE*6*0001"));
        assert_eq!(
            (e.segment, e.segment_id.as_str(), e.element),
            (7, "SE", Some(1))
        );
        assert_eq!(
            e.to_string(),
            "segment 7 (SE), element 01 (SE01): SE01 states 6, but there are 5"
        );
    }

    #[test]
    fn trailers_must_repeat_their_headers_control_numbers() {
        let e = error(&PO.replace("IEA*1*000000123", "IEA*1*000000124"));
        assert_eq!((e.segment, e.element), (9, Some(2)));
        let e = error(&PO.replace("GE*1*123", "GE*1*124"));
        assert_eq!((e.segment, e.element), (8, Some(2)));
        let e = error(&PO.replace("SE*5*0001", "SE*5*0002"));
        assert_eq!((e.segment, e.element), (7, Some(2)));
    }

    #[test]
    fn another_version_or_a_broken_isa_is_refused_where_it_is() {
        let e = error(&PO.replace("*004010~", "*005010~"));
        assert_eq!(
            (e.segment, e.segment_id.as_str(), e.element),
            (2, "GS", Some(8))
        );
        let e = error(&PO.replace("*00401*", "*00501*"));
        assert_eq!((e.segment, e.element), (1, Some(12)));
        let e = error(&PO.replace("ACMERETAIL     *", "ACMERETAIL*"));
        assert_eq!((e.segment, e.element), (1, Some(7)));
        let e = error(&PO.replace("*P*>~", "*P*~~"));
        assert!(e.reason.contains("delimiters"), "{e}");
    }

    #[test]
    fn a_missing_trailer_or_stray_data_is_refused() {
        let e = error(&PO.replace("SE*5*0001~\n", ""));
        assert_eq!((e.segment, e.segment_id.as_str()), (7, "GE"));
        let e = error(&format!("{PO}ISA*00~"));
        assert!(
            e.reason.contains("not terminated") || e.reason.contains("after IEA"),
            "{e}"
        );
        let e = error(&PO.replace("CTT*1~", "CTT*1\u{7}~"));
        assert_eq!((e.segment, e.element), (6, Some(1)));
        let e = error(&PO.replace("IEA*1*000000123~\n", "IEA*1*000000123"));
        assert!(e.reason.contains("not terminated"), "{e}");
        let e = error(&PO.replace("CTT*1~", "~"));
        assert!(e.reason.contains("empty segment"), "{e}");
    }

    #[test]
    fn a_set_in_the_wrong_group_is_refused() {
        let e = error(&PO.replace("GS*PO*", "GS*IN*"));
        assert_eq!(
            (e.segment, e.segment_id.as_str(), e.element),
            (3, "ST", Some(1))
        );
    }

    #[test]
    fn a_set_in_error_is_refused_alone() {
        let two = PO.replace(
            "GE*1*123~",
            "ST*850*0002~BEG*00*SA*PO-2**20260105~PO1*1*0\u{7}*EA~SE*4*0002~\n\
             ST*850*0003~BEG*00*SA*PO-3**20260105~SE*9*0003~\n\
             ST*850*0004~BEG*00*SA*PO-4**20260105~\n\
             GE*4*123~",
        );
        let parsed = parse_sets(two.as_bytes()).expect("the envelopes are sound");
        let read: Vec<&str> = parsed.interchange.groups[0]
            .transactions
            .iter()
            .map(|t| t.control_number.as_str())
            .collect();
        assert_eq!(read, ["0001"]);
        let refused: Vec<(&str, usize, &str, Option<usize>)> = parsed
            .refused
            .iter()
            .map(|r| {
                (
                    r.control_number.as_str(),
                    r.error.segment,
                    r.error.segment_id.as_str(),
                    r.error.element,
                )
            })
            .collect();
        assert_eq!(
            refused,
            [
                ("0002", 10, "PO1", Some(2)),
                ("0003", 14, "SE", Some(1)),
                ("0004", 17, "GE", None)
            ]
        );
        assert!(parsed.refused[2].error.reason.contains("SE missing"));
        // The strict reader refuses the interchange with the first of them.
        assert_eq!(parse(two.as_bytes()).unwrap_err().segment, 10);
        // A wrong GE01 is still the group's error.
        let miscounted = two.replace("GE*4*123", "GE*3*123");
        assert_eq!(
            parse_sets(miscounted.as_bytes()).unwrap_err().segment_id,
            "GE"
        );
    }
}
