//! Transaction status: event dates, and reading a workflow's events.
//!
//! The bodies ([`TransactionStatus`], [`StatusEvent`],
//! [`WorkflowStatusNotification`]) are generated in `crate::api`; event
//! types and statuses are the open tables [`EventType`] and
//! [`EventStatus`], which keep values they do not list.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api::{StatusEvent, TransactionStatus, WorkflowEvent, WorkflowStatusNotification};
use crate::error::{Error, shown};
use crate::tables::{EventStatus, EventType};

/// The instant of an event, read from RFC 3339 text with the offset as
/// `Z`, `+02:00`, `+0200` or `+02` (the Gateway sends both of the middle
/// forms). Written back exactly as read.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EventDate {
    text: String,
    at: OffsetDateTime,
}

impl EventDate {
    /// Parses an event date.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let fail = |reason| Error::Date {
            value: shown(text),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.len() > 64 {
            return Err(fail("is too long for a date-time"));
        }
        let normalized =
            normalize_offset(trimmed).ok_or_else(|| fail("has no time zone offset"))?;
        let at = OffsetDateTime::parse(&normalized, &Rfc3339)
            .map_err(|_| fail("is not an RFC 3339 date-time"))?;
        Ok(Self {
            text: text.to_owned(),
            at,
        })
    }

    /// An event date at `at`, written in RFC 3339.
    pub fn from_instant(at: OffsetDateTime) -> Result<Self, Error> {
        let text = at.format(&Rfc3339).map_err(|_| Error::Date {
            value: at.to_string(),
            reason: "cannot be written in RFC 3339",
        })?;
        Ok(Self { text, at })
    }

    /// The instant.
    pub fn instant(&self) -> OffsetDateTime {
        self.at
    }

    /// The text as received.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// RFC 3339 text with its offset written `+hh:mm`, or `None` when it has no
/// offset.
fn normalize_offset(text: &str) -> Option<String> {
    if let Some(head) = text.strip_suffix(['Z', 'z']) {
        return Some(format!("{head}Z"));
    }
    // The offset starts at the last sign after the time's start.
    let time_start = text.find(['T', 't', ' '])?;
    let sign_at = text[time_start..].rfind(['+', '-'])? + time_start;
    let (head, offset) = text.split_at(sign_at);
    let digits: String = offset[1..].chars().filter(char::is_ascii_digit).collect();
    let sign = &offset[..1];
    let head = head.replacen(' ', "T", 1);
    match digits.len() {
        2 => Some(format!("{head}{sign}{digits}:00")),
        4 => Some(format!("{head}{sign}{}:{}", &digits[..2], &digits[2..])),
        _ => None,
    }
}

impl PartialOrd for EventDate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EventDate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at
            .cmp(&other.at)
            .then_with(|| self.text.cmp(&other.text))
    }
}

impl fmt::Display for EventDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for EventDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventDate({:?})", self.text)
    }
}

impl std::str::FromStr for EventDate {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl Serialize for EventDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for EventDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Where a workflow stands, from its events.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress<'a> {
    /// No event failed and the workflow is not known to be over.
    InProgress,
    /// An event failed with `BLOCKING_ERROR`: the workflow stopped there.
    Failed(&'a StatusEvent),
    /// The UA-R reported success (`UAR_FINAL_STATUS` `SUCCESS`): the
    /// document is on the FSE.
    Completed,
}

impl TransactionStatus {
    /// The events, oldest first (events without a date keep their order,
    /// after the dated ones).
    pub fn events_in_order(&self) -> Vec<&StatusEvent> {
        let mut events: Vec<&StatusEvent> = self.events.iter().flatten().collect();
        events.sort_by(|a, b| match (&a.event_date, &b.event_date) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        });
        events
    }

    /// The first event of `event_type`, if any.
    pub fn find(&self, event_type: &EventType) -> Option<&StatusEvent> {
        self.events_in_order()
            .into_iter()
            .find(|e| e.event_type.as_ref() == Some(event_type))
    }

    /// Whether an event of `event_type` succeeded.
    pub fn succeeded(&self, event_type: &EventType) -> bool {
        self.events.iter().flatten().any(|e| {
            e.event_type.as_ref() == Some(event_type)
                && e.event_status == Some(EventStatus::Success)
        })
    }

    /// Whether the Gateway took a publication or replacement in charge: the
    /// question to ask before retrying a creation whose answer was lost.
    pub fn publication_taken(&self) -> bool {
        self.succeeded(&EventType::Publication) || self.succeeded(&EventType::Replace)
    }

    /// Where the workflow stands.
    pub fn progress(&self) -> Progress<'_> {
        let events = self.events_in_order();
        if let Some(failed) = events
            .iter()
            .find(|e| e.event_status == Some(EventStatus::BlockingError))
        {
            return Progress::Failed(failed);
        }
        if self.succeeded(&EventType::UarFinalStatus) {
            Progress::Completed
        } else {
            Progress::InProgress
        }
    }
}

impl WorkflowStatusNotification {
    /// The events, oldest first.
    pub fn events_in_order(&self) -> Vec<&WorkflowEvent> {
        let mut events: Vec<&WorkflowEvent> = self.events.iter().flatten().collect();
        events.sort_by(|a, b| match (&a.event_date, &b.event_date) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        });
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_offset_forms_are_the_same_instant() {
        let colon = EventDate::parse("2024-05-24T17:45:46.123+02:00").expect("colon");
        let compact = EventDate::parse("2024-05-24T17:45:46.123+0200").expect("compact");
        let hours = EventDate::parse("2024-05-24T17:45:46.123+02").expect("hours");
        let utc = EventDate::parse("2024-05-24T15:45:46.123Z").expect("utc");
        assert_eq!(colon.instant(), compact.instant());
        assert_eq!(colon.instant(), hours.instant());
        assert_eq!(colon.instant(), utc.instant());
        assert_eq!(
            compact.to_string(),
            "2024-05-24T17:45:46.123+0200",
            "written back as read"
        );
        assert_eq!(
            serde_json::to_string(&compact).expect("serializes"),
            "\"2024-05-24T17:45:46.123+0200\""
        );
        assert!(EventDate::parse("2022-05-24T17:45:46Z").is_ok());
        assert!(EventDate::parse("2022-05-24T17:45:46-0330").is_ok());
    }

    #[test]
    fn rejections() {
        for bad in [
            "2022-05-24T17:45:46",
            "2022-05-24",
            "yesterday",
            "",
            "2022-13-24T17:45:46Z",
            "2022-05-24T17:45:46+2",
        ] {
            assert!(EventDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_bodies_mixing_offsets_and_unknown_types_deserialize() {
        let body = r#"{"traceID":"t","spanID":"s","transactionData":[
            {"eventType":"PUBLICATION","eventDate":"2024-05-24T17:45:47+0200","eventStatus":"SUCCESS","message":"ok"},
            {"eventType":"VALIDATION","eventDate":"2024-05-24T17:45:46.000+02:00","eventStatus":"SUCCESS","subject":"RSSMRA80A01H501U"},
            {"eventType":"INI_CREATE_SOAP","eventDate":"2024-05-24T17:45:48+0200","eventStatus":"ASYNC_RETRY","extra":"x","brandNew":1}
        ]}"#;
        let status: TransactionStatus = serde_json::from_str(body).expect("deserializes");
        let order: Vec<_> = status
            .events_in_order()
            .iter()
            .map(|e| e.event_type.clone())
            .collect();
        assert_eq!(
            order,
            vec![
                Some(EventType::Validation),
                Some(EventType::Publication),
                Some(EventType::Other("INI_CREATE_SOAP".into()))
            ]
        );
        assert!(status.publication_taken());
        assert_eq!(status.progress(), Progress::InProgress);
        let last = status
            .find(&EventType::Other("INI_CREATE_SOAP".into()))
            .expect("kept");
        assert_eq!(last.event_status, Some(EventStatus::AsyncRetry));
        assert_eq!(
            last.additional.get("brandNew"),
            Some(&serde_json::Value::from(1))
        );
        let debug = format!(
            "{:?}",
            status.find(&EventType::Validation).expect("validation")
        );
        assert!(
            !debug.contains("RSSMRA80A01H501U"),
            "the subject is masked: {debug}"
        );
        let again: TransactionStatus =
            serde_json::from_str(&serde_json::to_string(&status).expect("writes")).expect("reads");
        assert_eq!(again, status);
    }

    #[test]
    fn progress_of_a_workflow() {
        let read = |events: &str| -> TransactionStatus {
            serde_json::from_str(&format!(r#"{{"transactionData":[{events}]}}"#))
                .expect("deserializes")
        };
        let failed = read(
            r#"{"eventType":"PUBLICATION","eventDate":"2024-05-24T17:45:47Z","eventStatus":"SUCCESS"},
               {"eventType":"SEND_TO_INI","eventDate":"2024-05-24T17:45:49Z","eventStatus":"BLOCKING_ERROR","message":"timeout"}"#,
        );
        assert!(
            matches!(failed.progress(), Progress::Failed(e) if e.message.as_deref() == Some("timeout"))
        );
        let done = read(
            r#"{"eventType":"UAR_FINAL_STATUS","eventDate":"2024-05-24T17:50:00Z","eventStatus":"SUCCESS"}"#,
        );
        assert_eq!(done.progress(), Progress::Completed);
        assert!(!done.publication_taken());
    }

    #[test]
    fn push_notification_deserializes() {
        let body = r#"{"workflowInstanceId":"w","events":[
            {"eventType":"SEND_TO_INI","eventDate":"2024-05-24T17:45:49+0200","eventStatus":"SUCCESS","issuer":"integrity:S1#x","message":""},
            {"eventType":"VALIDATION","eventDate":"2024-05-24T17:45:46+02:00","eventStatus":"SUCCESS"}]}"#;
        let n: WorkflowStatusNotification = serde_json::from_str(body).expect("deserializes");
        let first = n.events_in_order()[0];
        assert_eq!(first.event_type, Some(EventType::Validation));
    }

    proptest! {
        #[test]
        fn instants_round_trip(secs in 0i64..4_000_000_000, offset_minutes in -720i32..=840, compact in any::<bool>()) {
            let offset = time::UtcOffset::from_whole_seconds(offset_minutes / 15 * 15 * 60).expect("offset");
            let at = OffsetDateTime::from_unix_timestamp(secs).expect("instant").to_offset(offset);
            let written = EventDate::from_instant(at).expect("writes");
            let mut text = written.to_string();
            if compact && !text.ends_with('Z') {
                let colon = text.len() - 3;
                text.remove(colon);
            }
            let read = EventDate::parse(&text).expect("reads");
            prop_assert_eq!(read.instant(), at);
            prop_assert_eq!(read.to_string(), text);
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,40}") {
            let _ = EventDate::parse(&s);
        }
    }
}
