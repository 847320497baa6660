//! Property tests of the X12 reader and writer: any valid interchange written with any usable delimiters reads
//! back equal; random and mutated input never panics the reader, and every rejection names a position within
//! the input.

use channel_edi::x12::{
    self, COMPONENT, Delimiters, Group, Interchange, InterchangeHeader, Segment, Transaction,
};
use proptest::prelude::*;

fn delimiters() -> impl Strategy<Value = Delimiters> {
    let pool = vec![
        '*', '|', '^', '+', '>', ':', '~', '\'', '!', '\n', '\u{1d}', '`',
    ];
    proptest::sample::subsequence(pool, 3)
        .prop_shuffle()
        .prop_map(|v| Delimiters {
            element: v[0],
            component: v[1],
            segment: v[2],
        })
}

/// Data characters that are never among the delimiters above.
const DATA: &str = "[A-Za-z0-9 .,/#&()-]{0,12}";

fn element() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => DATA.prop_map(String::from),
        1 => proptest::collection::vec("[A-Z0-9]{1,4}", 2..4)
            .prop_map(|parts| parts.join(&COMPONENT.to_string())),
    ]
}

fn segment() -> impl Strategy<Value = Segment> {
    (
        proptest::sample::select(vec![
            "BEG", "PO1", "N1", "REF", "DTM", "LIN", "QTY", "CTT", "N3", "N4", "AK1",
        ]),
        proptest::collection::vec(element(), 0..8),
    )
        .prop_map(|(id, elements)| Segment {
            id: id.to_string(),
            elements,
        })
}

fn transaction(index: usize) -> impl Strategy<Value = Transaction> {
    proptest::collection::vec(segment(), 0..6).prop_map(move |segments| Transaction {
        set_id: String::new(),
        control_number: format!("{:04}", index + 1),
        segments,
    })
}

fn group(index: u32) -> impl Strategy<Value = Group> {
    (
        proptest::sample::select(vec![
            ("846", "IB"),
            ("850", "PO"),
            ("997", "FA"),
            ("999", "ZZ"),
        ]),
        "[A-Z0-9]{2,15}",
        "[A-Z0-9]{2,15}",
        "[0-9]{8}",
        "[0-9]{4,8}",
        1u32..1000,
        (1usize..4).prop_flat_map(|n| (0..n).map(transaction).collect::<Vec<_>>()),
    )
        .prop_map(
            move |((set, functional), sender, receiver, date, time, base, mut transactions)| {
                for t in &mut transactions {
                    t.set_id = set.to_string();
                }
                Group {
                    functional_id: functional.to_string(),
                    sender_code: sender,
                    receiver_code: receiver,
                    date,
                    time,
                    control_number: base * 10 + index,
                    version: "004010".into(),
                    transactions,
                }
            },
        )
}

fn interchange() -> impl Strategy<Value = Interchange> {
    (
        delimiters(),
        (
            "[A-Z0-9]{2}",
            "[A-Z0-9]{1,15}",
            "[A-Z0-9]{2}",
            "[A-Z0-9]{1,15}",
        ),
        (
            "[0-9]{6}",
            "[0-9]{4}",
            0u32..=999_999_999,
            any::<bool>(),
            prop_oneof![Just('P'), Just('T')],
        ),
        (1u32..4).prop_flat_map(|n| (0..n).map(group).collect::<Vec<_>>()),
    )
        .prop_map(
            |(
                delimiters,
                (sq, sender, rq, receiver),
                (date, time, control, ack, usage),
                groups,
            )| {
                Interchange {
                    header: InterchangeHeader {
                        authorization_qualifier: "00".into(),
                        authorization: String::new(),
                        security_qualifier: "00".into(),
                        security: String::new(),
                        sender_qualifier: sq,
                        sender_id: sender,
                        receiver_qualifier: rq,
                        receiver_id: receiver,
                        date,
                        time,
                        control_number: control,
                        acknowledgement_requested: ack,
                        usage,
                    },
                    delimiters,
                    groups,
                }
            },
        )
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Insert(usize, u8),
    Replace(usize, u8),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Replace(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let at = |i: usize, len: usize| i % len;
    match *m {
        Mutation::Delete(i) => {
            let i = at(i, bytes.len());
            bytes.remove(i);
        }
        Mutation::Insert(i, b) => {
            let i = at(i, bytes.len() + 1);
            bytes.insert(i, b);
        }
        Mutation::Replace(i, b) => {
            let i = at(i, bytes.len());
            bytes[i] = b;
        }
        Mutation::Truncate(i) => bytes.truncate(at(i, bytes.len())),
        Mutation::Duplicate(i, n) => {
            let i = at(i, bytes.len());
            let end = (i + n).min(bytes.len());
            let copy = bytes[i..end].to_vec();
            bytes.splice(i..i, copy);
        }
    }
}

/// Segments in the text, as an upper bound for a rejection's position.
fn segment_bound(bytes: &[u8]) -> usize {
    bytes.len() + 2
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn valid_interchanges_read_back_equal(ic in interchange()) {
        let text = x12::write(&ic).expect("a generated interchange is writable");
        let read = x12::parse(text.as_bytes());
        prop_assert_eq!(read, Ok(ic), "text: {:?}", text);
    }

    #[test]
    fn line_breaks_after_terminators_are_layout(ic in interchange()) {
        prop_assume!(!ic.delimiters.contains_line_break());
        let text = x12::write(&ic).expect("writable");
        let spaced = text.replace(ic.delimiters.segment, &format!("{}\r\n", ic.delimiters.segment));
        prop_assert_eq!(x12::parse(spaced.as_bytes()), Ok(ic));
    }

    #[test]
    fn mutated_interchanges_never_panic(ic in interchange(), mutations in proptest::collection::vec(mutation(), 1..6)) {
        let mut bytes = x12::write(&ic).expect("writable").into_bytes();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        // The lenient reader agrees with the strict one: it fails when the envelopes do, and otherwise the
        // strict one fails exactly when a set was refused.
        match (x12::parse_sets(&bytes), x12::parse(&bytes)) {
            (Ok(parsed), strict) => prop_assert_eq!(parsed.refused.is_empty(), strict.is_ok()),
            (Err(lenient), strict) => prop_assert_eq!(Err(lenient), strict),
        }
        if let Err(e) = x12::parse(&bytes) {
            prop_assert!(e.segment <= segment_bound(&bytes), "{e}");
            prop_assert!(!e.to_string().is_empty());
            // The refusal's 997 can always be built (or there is no envelope to answer), and is writable.
            if let Some(scanned) = x12::scan::scan(&bytes) {
                for body in channel_edi::documents::functional_ack::reject(&scanned, &e) {
                    let ic = Interchange {
                        header: scanned.header.clone(),
                        delimiters: Delimiters::default(),
                        groups: vec![Group {
                            functional_id: "FA".into(),
                            sender_code: "US".into(),
                            receiver_code: "THEM".into(),
                            date: "20260101".into(),
                            time: "1200".into(),
                            control_number: 1,
                            version: "004010".into(),
                            transactions: vec![Transaction { set_id: "997".into(), control_number: "0001".into(), segments: body }],
                        }],
                    };
                    let _ = x12::write(&ic);
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = x12::parse(&bytes);
    }

    #[test]
    fn random_bytes_behind_a_valid_isa_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260101*1200*U*00401*000000001*0*P*>~".to_vec();
        bytes.extend(tail);
        let _ = x12::parse(&bytes);
    }

    #[test]
    fn segment_like_noise_never_panics(tail in "(GS|ST|SE|GE|IEA|BEG|PO1)?[*~>0-9A-Z]{0,60}(~(GS|ST|SE|GE|IEA|PO1)[*~>0-9A-Z]{0,30}){0,12}") {
        let mut text = String::from("ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260101*1200*U*00401*000000001*0*P*>~");
        text.push_str(&tail);
        let _ = x12::parse(text.as_bytes());
    }
}
