//! What the simulated Gateway holds: published documents, status events,
//! the validation hashes awaiting publication, and the journal of calls.
//!
//! In memory; with a state file, everything but the journal of calls is
//! written after every change (to a temporary file, then renamed) and read
//! back at start, so published documents survive a restart.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};

/// Where a document stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DocumentStatus {
    /// Published and current.
    Published,
    /// Replaced by a newer version.
    Replaced,
    /// Deleted.
    Deleted,
}

/// One thing that happened to a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When (RFC 3339).
    pub at: String,
    /// The operation.
    pub operation: String,
    /// Its workflow instance id.
    pub workflow_instance_id: String,
    /// Its trace id.
    pub trace_id: String,
}

/// A document as the simulated Gateway (INI + EDS) holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDocument {
    /// `identificativoDoc`.
    pub id: String,
    /// Where it stands.
    pub status: DocumentStatus,
    /// The workflow instance id of its publication.
    pub workflow_instance_id: String,
    /// The trace id of its publication.
    pub trace_id: String,
    /// 1 for a create, the replaced document's version + 1 for a replace.
    pub version: u32,
    /// How many publications of this id were accepted (more than one is a
    /// duplicate: INI refuses it, but the Gateway took it with 202).
    pub publications: u32,
    /// The id it replaced.
    pub replaces: Option<String>,
    /// The id that replaced it.
    pub replaced_by: Option<String>,
    /// `tipoDocumentoLivAlto`.
    pub class_code: String,
    /// The CDA's `code` and code system.
    pub document_code: Option<String>,
    /// The patient's id, masked.
    pub patient_masked: Option<String>,
    /// SHA-256 (hex) of the PDF.
    pub pdf_sha256: String,
    /// The cda-match hash of the CDA.
    pub cda_hash: String,
    /// `attiCliniciRegoleAccesso`, the privacy policy included.
    pub event_codes: Vec<String>,
    /// Whether `P99` is among the event codes.
    pub obscured: bool,
    /// The metadata as last sent.
    pub metadata: Map<String, Value>,
    /// What happened to it.
    pub history: Vec<HistoryEntry>,
}

/// One status event, with the Gateway's wire names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusEvent {
    /// `VALIDATION`, `PUBLICATION`, `SEND_TO_INI`, ...
    pub event_type: String,
    /// When, with an Italian offset (`+02:00` or `+0200`).
    pub event_date: String,
    /// `SUCCESS`, `BLOCKING_ERROR`, ...
    pub event_status: String,
    /// A message, on errors.
    pub message: Option<String>,
    /// The document.
    pub identificativo_documento: Option<String>,
    /// The user (`sub`).
    pub subject: Option<String>,
    /// The user's role.
    pub subject_role: Option<String>,
    /// `tipoAttivitaClinica`.
    pub tipo_attivita: Option<String>,
    /// The organization code.
    pub organizzazione: Option<String>,
    /// The workflow instance id.
    pub workflow_instance_id: String,
    /// The trace id.
    pub trace_id: String,
    /// `iss` of the signature token.
    pub issuer: Option<String>,
    /// When the event will be forgotten (about a year later).
    pub expiring_date: String,
    /// Anything else.
    pub extra: Option<String>,
}

/// A validation awaiting its publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRecord {
    /// The workflow instance id the validation issued.
    pub workflow_instance_id: String,
    /// When the validation happened.
    #[serde(with = "time::serde::rfc3339")]
    pub validated_at: OffsetDateTime,
}

/// Why a publication found no usable validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchFailure {
    /// No validation of this CDA, another wii, or already used.
    NotValidated,
    /// The validation is older than the limit.
    TooOld,
}

/// One call received, as `/_sim/calls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The `X-CART-id` given.
    pub cart_id: String,
    /// When it arrived (RFC 3339).
    pub at: String,
    /// The HTTP method.
    pub method: String,
    /// The path, as received.
    pub path: String,
    /// The operation.
    pub operation: String,
    /// The status the caller received (0: no answer).
    pub status: u16,
    /// The status the Gateway answered, when it was reached.
    pub gateway_status: Option<u16>,
    /// The fault injected, if any.
    pub fault: Option<String>,
    /// The trace id given.
    pub trace_id: Option<String>,
    /// The workflow instance id given.
    pub workflow_instance_id: Option<String>,
    /// The problem type, on errors.
    pub problem_type: Option<String>,
    /// The document concerned, when known.
    pub document_id: Option<String>,
    /// The TLS client certificate's common name.
    pub client: Option<String>,
    /// How long the call took, in milliseconds.
    pub duration_ms: u64,
}

/// A push notification sent (or attempted) to an `X-Callback-Url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRecord {
    /// Where.
    pub url: String,
    /// The workflow instance id notified.
    pub workflow_instance_id: String,
    /// The HTTP status received, or none when it failed.
    pub status: Option<u16>,
    /// Why it failed.
    pub error: Option<String>,
    /// Attempts made.
    pub attempts: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Persisted {
    documents: BTreeMap<String, StoredDocument>,
    events: Vec<StatusEvent>,
    matches: HashMap<String, MatchRecord>,
}

/// Everything the simulator holds.
#[derive(Debug, Default)]
pub struct Store {
    persisted: Persisted,
    calls: Vec<CallRecord>,
    notifications: Vec<NotificationRecord>,
    file: Option<PathBuf>,
}

/// How many calls the journal of calls keeps (the oldest are dropped).
const MAX_CALLS: usize = 100_000;

impl Store {
    /// An empty store in memory.
    pub fn in_memory() -> Self {
        Store::default()
    }

    /// A store kept in `path`, loaded from it when it exists.
    ///
    /// # Errors
    /// When the file exists but cannot be read or is not a state file.
    pub fn persistent(path: &Path) -> Result<Self> {
        let persisted = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::StateFile {
                path: path.to_path_buf(),
                source: e,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Persisted::default(),
            Err(e) => return Err(Error::io("reading", path, e)),
        };
        Ok(Store {
            persisted,
            file: Some(path.to_path_buf()),
            ..Store::default()
        })
    }

    /// Writes the state file, if there is one.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn save(&self) -> Result<()> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let json = serde_json::to_vec_pretty(&self.persisted).map_err(|e| Error::StateFile {
            path: path.clone(),
            source: e,
        })?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, json).map_err(|e| Error::io("writing", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io("renaming into", path, e))
    }

    /// The documents, by id.
    pub fn documents(&self) -> &BTreeMap<String, StoredDocument> {
        &self.persisted.documents
    }

    /// A document, if it is currently published (not replaced or deleted).
    pub fn published(&self, id: &str) -> Option<&StoredDocument> {
        self.persisted
            .documents
            .get(id)
            .filter(|d| d.status == DocumentStatus::Published)
    }

    /// A document, mutable.
    pub fn document_mut(&mut self, id: &str) -> Option<&mut StoredDocument> {
        self.persisted.documents.get_mut(id)
    }

    /// Stores a new document, or counts a duplicate publication of a
    /// published one (which is left as it is). Returns whether it was a
    /// duplicate.
    pub fn publish(&mut self, doc: StoredDocument) -> bool {
        match self.persisted.documents.get_mut(&doc.id) {
            Some(existing) if existing.status == DocumentStatus::Published => {
                existing.publications += 1;
                existing.history.extend(doc.history);
                true
            }
            _ => {
                self.persisted.documents.insert(doc.id.clone(), doc);
                false
            }
        }
    }

    /// Records a validation of a CDA with this cda-match hash; a new
    /// validation of the same CDA replaces the previous one.
    pub fn record_validation(&mut self, hash: &str, wii: &str, at: OffsetDateTime) {
        self.persisted.matches.insert(
            hash.to_owned(),
            MatchRecord {
                workflow_instance_id: wii.to_owned(),
                validated_at: at,
            },
        );
    }

    /// Takes the validation of a CDA for its publication: single use, even
    /// when the publication then fails.
    ///
    /// # Errors
    /// When there is none, it has another wii, or it is older than `max_age`.
    pub fn take_validation(
        &mut self,
        hash: &str,
        wii: Option<&str>,
        now: OffsetDateTime,
        max_age: Duration,
    ) -> Result<String, MatchFailure> {
        let record = self
            .persisted
            .matches
            .remove(hash)
            .ok_or(MatchFailure::NotValidated)?;
        if wii.is_some_and(|w| w != record.workflow_instance_id) {
            return Err(MatchFailure::NotValidated);
        }
        if now - record.validated_at > max_age {
            return Err(MatchFailure::TooOld);
        }
        Ok(record.workflow_instance_id)
    }

    /// How many validations await publication.
    pub fn pending_validations(&self) -> usize {
        self.persisted.matches.len()
    }

    /// Adds status events.
    pub fn add_events(&mut self, events: impl IntoIterator<Item = StatusEvent>) {
        self.persisted.events.extend(events);
    }

    /// The events of a workflow instance, in order.
    pub fn events_of_workflow(&self, wii: &str) -> Vec<StatusEvent> {
        self.persisted
            .events
            .iter()
            .filter(|e| e.workflow_instance_id == wii)
            .cloned()
            .collect()
    }

    /// The events of a trace, in order.
    pub fn events_of_trace(&self, trace_id: &str) -> Vec<StatusEvent> {
        self.persisted
            .events
            .iter()
            .filter(|e| e.trace_id == trace_id)
            .cloned()
            .collect()
    }

    /// Journals a call.
    pub fn record_call(&mut self, call: CallRecord) {
        if self.calls.len() >= MAX_CALLS {
            self.calls.remove(0);
        }
        self.calls.push(call);
    }

    /// The journal of calls.
    pub fn calls(&self) -> &[CallRecord] {
        &self.calls
    }

    /// Journals a push notification.
    pub fn record_notification(&mut self, n: NotificationRecord) {
        self.notifications.push(n);
    }

    /// The push notifications sent.
    pub fn notifications(&self) -> &[NotificationRecord] {
        &self.notifications
    }
}

/// `2026-06-01T10:00:00.123+02:00` (or `+0200` when `compact_offset`): the
/// Gateway's event dates, in Italian time, in both offset spellings seen.
pub fn event_date(at: OffsetDateTime, compact_offset: bool) -> String {
    let local = at.to_offset(crate::clock::italian_offset(at));
    let offset = local.offset();
    let (h, m) = (offset.whole_hours(), offset.minutes_past_hour().abs());
    let sign = if h < 0 { '-' } else { '+' };
    let zone = if compact_offset {
        format!("{sign}{:02}{m:02}", h.abs())
    } else {
        format!("{sign}{:02}:{m:02}", h.abs())
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{zone}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute(),
        local.second(),
        local.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn doc(id: &str) -> StoredDocument {
        StoredDocument {
            id: id.to_owned(),
            status: DocumentStatus::Published,
            workflow_instance_id: "w".to_owned(),
            trace_id: "t".to_owned(),
            version: 1,
            publications: 1,
            replaces: None,
            replaced_by: None,
            class_code: "REF".to_owned(),
            document_code: None,
            patient_masked: None,
            pdf_sha256: String::new(),
            cda_hash: String::new(),
            event_codes: Vec::new(),
            obscured: false,
            metadata: Map::new(),
            history: Vec::new(),
        }
    }

    #[test]
    fn validations_are_single_use_and_expire_after_five_days() {
        let mut store = Store::in_memory();
        let t0 = datetime!(2026-05-01 10:00 UTC);
        let five = Duration::days(5);
        store.record_validation("h", "w1", t0);
        assert_eq!(
            store.take_validation("h", Some("w1"), t0, five),
            Ok("w1".to_owned())
        );
        assert_eq!(
            store.take_validation("h", Some("w1"), t0, five),
            Err(MatchFailure::NotValidated)
        );

        store.record_validation("h", "w2", t0);
        store.record_validation("h", "w3", t0);
        assert_eq!(
            store.take_validation("h", Some("w2"), t0, five),
            Err(MatchFailure::NotValidated),
            "re-validation replaces the wii"
        );
        assert_eq!(
            store.pending_validations(),
            0,
            "a failed lookup still consumes"
        );

        store.record_validation("h", "w4", t0);
        let late = t0 + Duration::days(6);
        assert_eq!(
            store.take_validation("h", None, late, five),
            Err(MatchFailure::TooOld)
        );
        store.record_validation("h", "w5", t0);
        assert_eq!(
            store.take_validation("h", None, t0 + Duration::days(4), five),
            Ok("w5".to_owned())
        );
    }

    #[test]
    fn duplicate_publication_is_counted_not_stored() {
        let mut store = Store::in_memory();
        assert!(!store.publish(doc("a^1")));
        let mut again = doc("a^1");
        again.class_code = "LDO".to_owned();
        assert!(store.publish(again));
        let d = store.published("a^1").expect("published");
        assert_eq!((d.publications, d.class_code.as_str()), (2, "REF"));
    }

    #[test]
    fn persistent_store_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        let mut store = Store::persistent(&path).expect("new");
        store.publish(doc("a^1"));
        store.record_validation("h", "w", datetime!(2026-05-01 10:00 UTC));
        store.save().expect("save");
        let again = Store::persistent(&path).expect("load");
        assert!(again.published("a^1").is_some());
        assert_eq!(again.pending_validations(), 1);
        std::fs::write(&path, b"not json").expect("write");
        assert!(Store::persistent(&path).is_err());
    }

    #[test]
    fn event_dates_use_italian_time_in_both_spellings() {
        let at = datetime!(2026-07-01 10:00:00.5 UTC);
        assert_eq!(event_date(at, false), "2026-07-01T12:00:00.500+02:00");
        assert_eq!(event_date(at, true), "2026-07-01T12:00:00.500+0200");
        assert_eq!(
            event_date(datetime!(2026-01-01 10:00 UTC), false),
            "2026-01-01T11:00:00.000+01:00"
        );
    }
}
