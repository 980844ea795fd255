//! RSA: referto di specialistica ambulatoriale (HL7 Italia IG 1.1).
//!
//! Sections: Quesito diagnostico (29299-5), Storia clinica (11329-0),
//! Esame obiettivo (29545-1), Prestazioni (62387-6, required), Referto
//! (47045-0, required), Diagnosi (29548-5), Conclusioni (55110-1),
//! Suggerimenti per il medico prescrittore (62385-0), Accertamenti e
//! controlli consigliati (80615-8), Terapia farmacologica consigliata
//! (93341-6).

use serde::Deserialize;

use super::common::{Diagnosis, Medication, OID_ICD9CM, Procedure, Reason, diagnosis_rows};
use super::narrative::{self, Cell, component, section, status, text_paragraphs};
use super::rad::reason_section;
use super::types::{Coded, Timestamp};
use super::xml::El;
use super::{DocumentInput, Problems};

/// The body of an outpatient specialist report.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsaBody {
    /// Why the visit was requested.
    #[serde(default)]
    pub reason: Option<Reason>,
    /// Relevant clinical history, as text.
    #[serde(default)]
    pub clinical_history: Option<String>,
    /// The physical examination, as text.
    #[serde(default)]
    pub physical_exam: Option<String>,
    /// The services performed, at least one.
    pub performed: Vec<Performed>,
    /// The report.
    pub report: String,
    /// Diagnoses (ICD-9-CM).
    #[serde(default)]
    pub diagnoses: Vec<Diagnosis>,
    /// Conclusions.
    #[serde(default)]
    pub conclusions: Option<String>,
    /// Suggestions for the requesting doctor.
    #[serde(default)]
    pub suggestions: Option<String>,
    /// Tests and check-ups recommended.
    #[serde(default)]
    pub recommended_tests: Vec<RecommendedTest>,
    /// Medications recommended.
    #[serde(default)]
    pub recommended_therapy: Vec<Medication>,
}

/// A service performed: the catalogue code of the visit or test, and the
/// procedures it included.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Performed {
    /// The service: ICD-9-CM when no system is given; the national
    /// (`2.16.840.1.113883.2.9.6.1.11`) or a regional catalogue of
    /// outpatient services otherwise.
    pub code: Coded,
    /// When it was performed.
    pub time: Timestamp,
    /// Procedures it included.
    #[serde(default)]
    pub procedures: Vec<Procedure>,
}

/// A test or check-up the specialist recommends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendedTest {
    /// What: ICD-9-CM when no system is given.
    pub code: Coded,
    /// By when, if it matters.
    #[serde(default)]
    pub time: Option<Timestamp>,
}

fn check_text(p: &mut Problems, field: &str, text: Option<&String>) {
    if text.is_some_and(|t| t.trim().is_empty()) {
        p.push(field.to_string(), "must not be empty when given");
    }
}

impl RsaBody {
    pub(crate) fn check(&self, p: &mut Problems) {
        if let Some(r) = &self.reason {
            r.check(p, "body.reason");
        }
        check_text(p, "body.clinical_history", self.clinical_history.as_ref());
        check_text(p, "body.physical_exam", self.physical_exam.as_ref());
        if self.performed.is_empty() {
            p.push(
                "body.performed",
                "a specialist report lists at least one service performed",
            );
        }
        for (i, s) in self.performed.iter().enumerate() {
            s.code.check(p, &format!("body.performed[{i}].code"));
            for (j, proc) in s.procedures.iter().enumerate() {
                proc.check(p, &format!("body.performed[{i}].procedures[{j}]"));
            }
        }
        if self.report.trim().is_empty() {
            p.push("body.report", "must not be empty");
        }
        for (i, d) in self.diagnoses.iter().enumerate() {
            d.check(p, &format!("body.diagnoses[{i}]"));
        }
        check_text(p, "body.conclusions", self.conclusions.as_ref());
        check_text(p, "body.suggestions", self.suggestions.as_ref());
        for (i, t) in self.recommended_tests.iter().enumerate() {
            t.code
                .check(p, &format!("body.recommended_tests[{i}].code"));
        }
        for (i, m) in self.recommended_therapy.iter().enumerate() {
            m.check(p, &format!("body.recommended_therapy[{i}]"));
        }
    }

    pub(crate) fn body(&self, input: &DocumentInput) -> El {
        let now = &input.document.effective_time;
        let mut body = El::new("structuredBody");
        if let Some(reason) = &self.reason {
            body.push(component(reason_section(
                reason,
                ("29299-5", "Motivo della visita", "Quesito diagnostico"),
                "29298-7",
                now,
            )));
        }
        if let Some(history) = &self.clinical_history {
            body.push(component(
                section(None, "11329-0", "Storia generale", "Storia clinica")
                    .child(text_paragraphs(history)),
            ));
        }
        if let Some(exam) = &self.physical_exam {
            body.push(component(
                section(None, "29545-1", "Esame obiettivo", "Esame obiettivo")
                    .child(text_paragraphs(exam)),
            ));
        }
        body.push(component(self.performed_section()));
        body.push(component(
            section(None, "47045-0", "Referto", "Referto").child(text_paragraphs(&self.report)),
        ));
        if !self.diagnoses.is_empty() {
            let mut s = section(None, "29548-5", "Diagnosi", "Diagnosi").child(
                El::new("text").child(narrative::table(
                    &["Diagnosi", "Codice"],
                    diagnosis_rows(&self.diagnoses, "diagnosi"),
                )),
            );
            for (i, d) in self.diagnoses.iter().enumerate() {
                s.push(El::new("entry").child(d.observation(
                    "29308-4",
                    "Diagnosi",
                    &format!("diagnosi{}", i + 1),
                    now,
                )));
            }
            body.push(component(s));
        }
        if let Some(c) = &self.conclusions {
            body.push(component(
                section(None, "55110-1", "Conclusioni", "Conclusioni").child(text_paragraphs(c)),
            ));
        }
        if let Some(s) = &self.suggestions {
            body.push(component(
                section(
                    None,
                    "62385-0",
                    "Raccomandazioni",
                    "Suggerimenti per il medico prescrittore",
                )
                .child(text_paragraphs(s)),
            ));
        }
        if !self.recommended_tests.is_empty() {
            let rows = self
                .recommended_tests
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    vec![
                        Cell::with_id(t.code.label(), format!("accertamento{}", i + 1)),
                        Cell::new(
                            t.time
                                .as_ref()
                                .map(|t| format!("entro il {}", t.display()))
                                .unwrap_or_default(),
                        ),
                    ]
                })
                .collect();
            let mut s = section(
                None,
                "80615-8",
                "Accertamenti e controlli consigliati",
                "Accertamenti e controlli consigliati",
            )
            .child(El::new("text").child(narrative::table(&["Accertamento", "Quando"], rows)));
            for (i, t) in self.recommended_tests.iter().enumerate() {
                s.push(
                    El::new("entry").child(
                        El::new("act")
                            .attr("classCode", "ACT")
                            .attr("moodCode", "PRP")
                            .child(t.code.element("code", OID_ICD9CM))
                            .child(narrative::text_ref(&format!("accertamento{}", i + 1)))
                            .child(status("active"))
                            .child_opt(t.time.as_ref().map(narrative::effective_at)),
                    ),
                );
            }
            body.push(component(s));
        }
        if !self.recommended_therapy.is_empty() {
            let rows = self
                .recommended_therapy
                .iter()
                .enumerate()
                .map(|(i, m)| m.row(&format!("terapia{}", i + 1)))
                .collect();
            let mut s = section(
                None,
                "93341-6",
                "Terapia farmacologica consigliata",
                "Terapia farmacologica consigliata",
            )
            .child(
                El::new("text").child(narrative::table(&["Farmaco", "Posologia", "Periodo"], rows)),
            );
            for (i, m) in self.recommended_therapy.iter().enumerate() {
                s.push(El::new("entry").child(m.substance_administration(
                    "PRP",
                    &format!("terapia{}", i + 1),
                    None,
                )));
            }
            body.push(component(s));
        }
        body
    }

    fn performed_section(&self) -> El {
        let mut rows = Vec::new();
        let mut entries = Vec::new();
        for (i, s) in self.performed.iter().enumerate() {
            let id = format!("prestazione{}", i + 1);
            rows.push(vec![
                Cell::with_id(s.code.label(), id.as_str()),
                Cell::new(s.code.code.clone()),
                Cell::new(s.time.display()),
            ]);
            let mut act = El::new("act")
                .attr("classCode", "ACT")
                .attr("moodCode", "EVN")
                .child(s.code.element("code", OID_ICD9CM))
                .child(narrative::text_ref(&id))
                .child(status("completed"))
                .child(narrative::effective_at(&s.time));
            for (j, proc) in s.procedures.iter().enumerate() {
                let pid = format!("{id}-procedura{}", j + 1);
                rows.push(vec![
                    Cell::with_id(proc.code.label(), pid.as_str()),
                    Cell::new(proc.code.code.clone()),
                    Cell::new(proc.time.display()),
                ]);
                act.push(
                    El::new("entryRelationship").attr("typeCode", "COMP").child(
                        El::new("procedure")
                            .attr("classCode", "PROC")
                            .attr("moodCode", "EVN")
                            .child(proc.code.element("code", OID_ICD9CM))
                            .child(narrative::text_ref(&pid))
                            .child(status("completed"))
                            .child(narrative::effective_at(&proc.time)),
                    ),
                );
            }
            entries.push(El::new("entry").child(act));
        }
        section(None, "62387-6", "Interventi", "Prestazioni")
            .child(
                El::new("text").child(narrative::table(&["Prestazione", "Codice", "Data"], rows)),
            )
            .children(entries)
    }
}
