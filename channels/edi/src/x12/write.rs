//! The writer: an interchange as text with its delimiters, trailers counted here so they always agree.

use super::{
    COMPONENT, Delimiters, GS_VERSION, ISA_VERSION, Interchange, MAX_CONTROL_NUMBER, Segment,
    X12Error,
};

/// Writes `interchange`. Fails, naming the segment and element, when a value cannot be written: it contains
/// a delimiter or a control character, or does not fit its ISA field.
pub fn write(interchange: &Interchange) -> Result<String, X12Error> {
    let d = interchange.delimiters;
    d.check().map_err(|e| {
        X12Error::new(
            1,
            "ISA",
            None,
            format!("cannot write with these delimiters: {e}"),
        )
    })?;
    let mut out = String::new();
    out.push_str(&isa(interchange)?);
    let mut position = 1;
    let mut put = |out: &mut String, segment: &Segment| -> Result<(), X12Error> {
        position += 1;
        out.push_str(&render(position, segment, &d)?);
        Ok(())
    };
    for group in &interchange.groups {
        if group.control_number > MAX_CONTROL_NUMBER {
            return Err(X12Error::new(
                position + 1,
                "GS",
                Some(6),
                format!(
                    "group control number {} has more than 9 digits",
                    group.control_number
                ),
            ));
        }
        let gs06 = group.control_number.to_string();
        let version = if group.version.is_empty() {
            GS_VERSION
        } else {
            &group.version
        };
        put(
            &mut out,
            &Segment::new(
                "GS",
                &[
                    &group.functional_id,
                    &group.sender_code,
                    &group.receiver_code,
                    &group.date,
                    &group.time,
                    &gs06,
                    "X",
                    version,
                ],
            ),
        )?;
        for t in &group.transactions {
            put(
                &mut out,
                &Segment::new("ST", &[&t.set_id, &t.control_number]),
            )?;
            for segment in &t.segments {
                put(&mut out, segment)?;
            }
            let count = (t.segments.len() + 2).to_string();
            put(&mut out, &Segment::new("SE", &[&count, &t.control_number]))?;
        }
        let count = group.transactions.len().to_string();
        put(&mut out, &Segment::new("GE", &[&count, &gs06]))?;
    }
    let groups = interchange.groups.len().to_string();
    let control = format!("{:09}", interchange.header.control_number);
    put(&mut out, &Segment::new("IEA", &[&groups, &control]))?;
    Ok(out)
}

fn render(position: usize, segment: &Segment, d: &Delimiters) -> Result<String, X12Error> {
    let mut out =
        String::with_capacity(16 + segment.elements.iter().map(String::len).sum::<usize>());
    out.push_str(&segment.id);
    for (i, value) in segment.elements.iter().enumerate() {
        if let Some(c) = value
            .chars()
            .find(|c| *c != COMPONENT && (d.contains(*c) || c.is_control()))
        {
            return Err(X12Error::new(
                position,
                &segment.id,
                Some(i + 1),
                format!("{value:?} contains {c:?}, a delimiter or control character"),
            ));
        }
        out.push(d.element);
        out.extend(
            value
                .chars()
                .map(|c| if c == COMPONENT { d.component } else { c }),
        );
    }
    out.push(d.segment);
    Ok(out)
}

fn isa(interchange: &Interchange) -> Result<String, X12Error> {
    let h = &interchange.header;
    let d = interchange.delimiters;
    if h.control_number > MAX_CONTROL_NUMBER {
        return Err(X12Error::new(
            1,
            "ISA",
            Some(13),
            format!(
                "interchange control number {} has more than 9 digits",
                h.control_number
            ),
        ));
    }
    let fixed = |n: usize, value: &str, width: usize| -> Result<String, X12Error> {
        if value.len() > width || !value.is_ascii() {
            return Err(X12Error::new(
                1,
                "ISA",
                Some(n),
                format!("ISA{n:02} {value:?} must be at most {width} ASCII characters"),
            ));
        }
        if let Some(c) = value.chars().find(|c| d.contains(*c) || c.is_control()) {
            return Err(X12Error::new(
                1,
                "ISA",
                Some(n),
                format!("ISA{n:02} {value:?} contains {c:?}, a delimiter or control character"),
            ));
        }
        Ok(format!("{value:<width$}"))
    };
    let exact = |n: usize, value: &str, width: usize| -> Result<String, X12Error> {
        if value.len() == width {
            fixed(n, value, width)
        } else {
            Err(X12Error::new(
                1,
                "ISA",
                Some(n),
                format!("ISA{n:02} {value:?} must be exactly {width} characters"),
            ))
        }
    };
    let fields = [
        exact(1, &h.authorization_qualifier, 2)?,
        fixed(2, &h.authorization, 10)?,
        exact(3, &h.security_qualifier, 2)?,
        fixed(4, &h.security, 10)?,
        exact(5, &h.sender_qualifier, 2)?,
        fixed(6, &h.sender_id, 15)?,
        exact(7, &h.receiver_qualifier, 2)?,
        fixed(8, &h.receiver_id, 15)?,
        exact(9, &h.date, 6)?,
        exact(10, &h.time, 4)?,
        "U".to_string(),
        ISA_VERSION.to_string(),
        format!("{:09}", h.control_number),
        if h.acknowledgement_requested {
            "1"
        } else {
            "0"
        }
        .to_string(),
        exact(15, &h.usage.to_string(), 1)?,
        d.component.to_string(),
    ];
    let mut out = String::from("ISA");
    for field in fields {
        out.push(d.element);
        out.push_str(&field);
    }
    out.push(d.segment);
    Ok(out)
}
