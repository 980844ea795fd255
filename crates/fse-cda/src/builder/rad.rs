//! RAD: referto di radiologia (HL7 Italia IG 1.1).
//!
//! Sections: Quesito diagnostico (18785-6), Storia clinica (11329-0),
//! Esame eseguito (55111-9, required, one `act` per examination), Referto
//! (18782-3, required), Conclusioni (55110-1), Suggerimenti per il medico
//! prescrittore (18783-1).

use serde::Deserialize;

use super::common::{OID_ICD9CM, Reason};
use super::narrative::{self, Cell, component, section, status, text_paragraphs};
use super::types::{Coded, Timestamp};
use super::xml::El;
use super::{DocumentInput, Problems};

/// The body of a radiology report.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadBody {
    /// Why the examination was requested.
    #[serde(default)]
    pub reason: Option<Reason>,
    /// Relevant clinical history, as text.
    #[serde(default)]
    pub clinical_history: Option<String>,
    /// The examinations performed, at least one.
    pub exams: Vec<RadExam>,
    /// The report: what the radiologist saw.
    pub report: String,
    /// Conclusions.
    #[serde(default)]
    pub conclusions: Option<String>,
    /// Suggestions for the requesting doctor.
    #[serde(default)]
    pub suggestions: Option<String>,
}

/// One examination performed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadExam {
    /// The procedure: ICD-9-CM (`87.44` chest X-ray) when no system is
    /// given, or LOINC.
    pub code: Coded,
    /// When it was performed.
    pub time: Timestamp,
    /// Technique or modality details for the narrative.
    #[serde(default)]
    pub details: Option<String>,
    /// Dose delivered to the patient, as text (e.g. `0,02 mSv`).
    #[serde(default)]
    pub dose: Option<String>,
}

fn check_text(p: &mut Problems, field: &str, text: Option<&String>) {
    if text.is_some_and(|t| t.trim().is_empty()) {
        p.push(field.to_string(), "must not be empty when given");
    }
}

impl RadBody {
    pub(crate) fn check(&self, p: &mut Problems) {
        if let Some(r) = &self.reason {
            r.check(p, "body.reason");
        }
        check_text(p, "body.clinical_history", self.clinical_history.as_ref());
        if self.exams.is_empty() {
            p.push(
                "body.exams",
                "a radiology report has at least one examination",
            );
        }
        for (i, e) in self.exams.iter().enumerate() {
            e.code.check(p, &format!("body.exams[{i}].code"));
            e.code.check_system(
                p,
                &format!("body.exams[{i}].code"),
                &[OID_ICD9CM, crate::metadata::OID_LOINC],
            );
        }
        if self.report.trim().is_empty() {
            p.push("body.report", "must not be empty");
        }
        check_text(p, "body.conclusions", self.conclusions.as_ref());
        check_text(p, "body.suggestions", self.suggestions.as_ref());
    }

    pub(crate) fn body(&self, input: &DocumentInput) -> El {
        let mut body = El::new("structuredBody");
        if let Some(reason) = &self.reason {
            body.push(component(reason_section(
                reason,
                (
                    "18785-6",
                    "Motivo per lo studio - Radiologia",
                    "Quesito diagnostico",
                ),
                "29308-4",
                &input.document.effective_time,
            )));
        }
        if let Some(history) = &self.clinical_history {
            body.push(component(
                section(None, "11329-0", "Storia generale", "Storia clinica")
                    .child(text_paragraphs(history)),
            ));
        }
        let rows = self
            .exams
            .iter()
            .enumerate()
            .map(|(i, e)| {
                vec![
                    Cell::with_id(e.code.label(), format!("esame{}", i + 1)),
                    Cell::new(e.time.display()),
                    Cell::new(e.details.clone().unwrap_or_default()),
                    Cell::new(e.dose.clone().unwrap_or_default()),
                ]
            })
            .collect();
        let mut exams = section(
            None,
            "55111-9",
            "Descrizione attuale procedure di imaging",
            "Esame eseguito",
        )
        .child(El::new("text").child(narrative::table(
            &["Esame", "Data", "Tecnica", "Dose"],
            rows,
        )));
        for (i, e) in self.exams.iter().enumerate() {
            exams.push(
                El::new("entry").child(
                    El::new("act")
                        .attr("classCode", "ACT")
                        .attr("moodCode", "EVN")
                        .child(e.code.element("code", OID_ICD9CM))
                        .child(narrative::text_ref(&format!("esame{}", i + 1)))
                        .child(status("completed"))
                        .child(narrative::effective_at(&e.time)),
                ),
            );
        }
        body.push(component(exams));
        body.push(component(
            section(None, "18782-3", "Rilievo - Radiologia", "Referto")
                .child(text_paragraphs(&self.report)),
        ));
        if let Some(c) = &self.conclusions {
            body.push(component(
                section(None, "55110-1", "Conclusioni", "Conclusioni").child(text_paragraphs(c)),
            ));
        }
        if let Some(s) = &self.suggestions {
            body.push(component(
                section(
                    None,
                    "18783-1",
                    "Raccomandazioni",
                    "Suggerimenti per il medico prescrittore",
                )
                .child(text_paragraphs(s)),
            ));
        }
        body
    }
}

/// A "quesito diagnostico" section: the reason as text, and an
/// observation with the suspected diagnosis when there is one.
pub(crate) fn reason_section(
    reason: &Reason,
    (code, display, title): (&str, &str, &str),
    observation_code: &str,
    default_time: &Timestamp,
) -> El {
    let id = "quesito";
    let mut text = El::new("text").child(
        El::new("paragraph").child(
            El::new("content")
                .attr("ID", id)
                .text(reason.text.split_whitespace().collect::<Vec<_>>().join(" ")),
        ),
    );
    if let Some(d) = &reason.diagnosis {
        text.push(El::new("paragraph").text(format!(
            "Sospetto diagnostico: {} (ICD-9-CM {})",
            d.label(),
            d.code
        )));
    }
    let mut s = section(None, code, display, title).child(text);
    if let Some(d) = &reason.diagnosis {
        s.push(
            El::new("entry").child(
                El::new("observation")
                    .attr("classCode", "OBS")
                    .attr("moodCode", "EVN")
                    .child(narrative::loinc("code", observation_code, "Diagnosi"))
                    .child(narrative::text_ref(id))
                    .child(status("completed"))
                    .child(narrative::effective_at(default_time))
                    .child(d.element("value", OID_ICD9CM).attr("xsi:type", "CD")),
            ),
        );
    }
    s
}
