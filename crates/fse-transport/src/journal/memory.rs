//! A journal in memory, for dry runs, the demo and tests. Same chain, no
//! durability.

use std::sync::Mutex;

use super::{
    GENESIS_HASH, Journal, JournalEntry, JournalError, JournalQuery, JournalRecord, VerifyReport,
    canonical_record, chain_hash, verify_rows,
};

/// A journal in memory.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    rows: Mutex<Vec<(JournalEntry, String)>>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Journal for MemoryJournal {
    fn append(&self, record: &JournalRecord) -> Result<JournalEntry, JournalError> {
        let text = canonical_record(record)?;
        let mut rows = self.rows.lock().map_err(|_| JournalError::Poisoned)?;
        let (seq, prev_hash) = rows.last().map_or((1, GENESIS_HASH.to_owned()), |(e, _)| {
            (e.seq + 1, e.hash.clone())
        });
        let entry = JournalEntry {
            seq,
            hash: chain_hash(seq, &prev_hash, &text),
            prev_hash,
            record: record.clone(),
        };
        rows.push((entry.clone(), text));
        Ok(entry)
    }

    fn query(&self, query: &JournalQuery) -> Result<Vec<JournalEntry>, JournalError> {
        let rows = self.rows.lock().map_err(|_| JournalError::Poisoned)?;
        let mut out: Vec<JournalEntry> = rows
            .iter()
            .filter(|(e, _)| query.matches(&e.record))
            .map(|(e, _)| e.clone())
            .collect();
        if let Some(limit) = query.limit {
            let skip = out.len().saturating_sub(limit);
            out.drain(..skip);
        }
        Ok(out)
    }

    fn verify(&self) -> Result<VerifyReport, JournalError> {
        let rows = self.rows.lock().map_err(|_| JournalError::Poisoned)?;
        let head = rows.last().map(|(e, _)| (e.seq, e.hash.as_str()));
        Ok(verify_rows(
            rows.iter()
                .map(|(e, t)| (e.seq, t.as_str(), e.prev_hash.as_str(), e.hash.as_str())),
            head,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;

    #[test]
    fn chains_like_the_database() -> Result<(), JournalError> {
        let j = MemoryJournal::new();
        for i in 1..=3 {
            j.append(&record(i))?;
        }
        let report = j.verify()?;
        assert!(report.is_intact());
        assert_eq!(report.entries, 3);
        let last = j.query(&JournalQuery {
            limit: Some(1),
            ..Default::default()
        })?;
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].seq, 3);
        Ok(())
    }
}
