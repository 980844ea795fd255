//! LDO: lettera di dimissione ospedaliera (HL7 Italia IG 1.2).
//!
//! Sections: Motivo del ricovero (46241-6, required), Inquadramento
//! clinico iniziale (47039-3), Decorso ospedaliero (8648-8, required),
//! Procedure eseguite durante il ricovero (47519-4), Condizioni del
//! paziente e diagnosi alla dimissione (11535-2, required), Terapia
//! farmacologica alla dimissione (10183-2), Istruzioni di follow-up
//! (18776-5).

use serde::Deserialize;

use super::common::{Diagnosis, Medication, OID_ICD9CM, Procedure, Reason, diagnosis_rows};
use super::narrative::{self, Cell, component, section, status, text_paragraphs};
use super::xml::El;
use super::{DocumentInput, Problems};

/// The body of a discharge letter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdoBody {
    /// Why the patient was admitted, and the admission diagnosis (ICD-9-CM).
    pub admission_reason: Reason,
    /// The clinical picture at admission, as text.
    #[serde(default)]
    pub initial_assessment: Option<String>,
    /// What happened during the stay.
    pub hospital_course: String,
    /// Procedures performed during the stay.
    #[serde(default)]
    pub procedures: Vec<Procedure>,
    /// The patient's condition at discharge, and the discharge diagnoses.
    pub discharge: DischargeCondition,
    /// Medications prescribed at discharge.
    #[serde(default)]
    pub discharge_therapy: Vec<Medication>,
    /// Follow-up instructions.
    #[serde(default)]
    pub follow_up: Option<String>,
}

/// The condition at discharge.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DischargeCondition {
    /// The condition, in words.
    pub text: String,
    /// The discharge diagnoses (ICD-9-CM), main one first: at least one.
    pub diagnoses: Vec<Diagnosis>,
}

impl LdoBody {
    pub(crate) fn check(&self, p: &mut Problems) {
        self.admission_reason.check(p, "body.admission_reason");
        if self
            .initial_assessment
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            p.push("body.initial_assessment", "must not be empty when given");
        }
        if self.hospital_course.trim().is_empty() {
            p.push("body.hospital_course", "must not be empty");
        }
        for (i, proc) in self.procedures.iter().enumerate() {
            proc.check(p, &format!("body.procedures[{i}]"));
        }
        if self.discharge.text.trim().is_empty() {
            p.push("body.discharge.text", "must not be empty");
        }
        if self.discharge.diagnoses.is_empty() {
            p.push(
                "body.discharge.diagnoses",
                "at least one discharge diagnosis (without an entry the schematron warns W003)",
            );
        }
        for (i, d) in self.discharge.diagnoses.iter().enumerate() {
            d.check(p, &format!("body.discharge.diagnoses[{i}]"));
        }
        for (i, m) in self.discharge_therapy.iter().enumerate() {
            m.check(p, &format!("body.discharge_therapy[{i}]"));
        }
        if self
            .follow_up
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            p.push("body.follow_up", "must not be empty when given");
        }
    }

    pub(crate) fn body(&self, input: &DocumentInput) -> El {
        let now = &input.document.effective_time;
        let admitted = input.encounter.as_ref().map_or(now, |e| &e.start);
        let mut body = El::new("structuredBody");

        let reason = &self.admission_reason;
        let mut text = El::new("text").child(
            El::new("paragraph").child(
                El::new("content")
                    .attr("ID", "motivo")
                    .text(reason.text.split_whitespace().collect::<Vec<_>>().join(" ")),
            ),
        );
        if let Some(d) = &reason.diagnosis {
            text.push(El::new("paragraph").text(format!(
                "Diagnosi di ammissione: {} (ICD-9-CM {})",
                d.label(),
                d.code
            )));
        }
        let mut s = section(
            None,
            "46241-6",
            "Diagnosi di accettazione",
            "Motivo del ricovero",
        )
        .child(text);
        if let Some(d) = &reason.diagnosis {
            s.push(
                El::new("entry").child(
                    El::new("observation")
                        .attr("classCode", "OBS")
                        .attr("moodCode", "EVN")
                        .child(narrative::loinc(
                            "code",
                            "8646-2",
                            "Diagnosi di accettazione ospedaliera",
                        ))
                        .child(narrative::text_ref("motivo"))
                        .child(status("completed"))
                        .child(narrative::effective_at(admitted))
                        .child(d.element("value", OID_ICD9CM).attr("xsi:type", "CD")),
                ),
            );
        }
        body.push(component(s));

        if let Some(a) = &self.initial_assessment {
            body.push(component(
                section(
                    None,
                    "47039-3",
                    "Inquadramento clinico iniziale",
                    "Inquadramento clinico iniziale",
                )
                .child(text_paragraphs(a)),
            ));
        }
        body.push(component(
            section(None, "8648-8", "Decorso ospedaliero", "Decorso ospedaliero")
                .child(text_paragraphs(&self.hospital_course)),
        ));
        if !self.procedures.is_empty() {
            let rows = self
                .procedures
                .iter()
                .enumerate()
                .map(|(i, proc)| {
                    vec![
                        Cell::with_id(proc.code.label(), format!("procedura{}", i + 1)),
                        Cell::new(proc.code.code.clone()),
                        Cell::new(proc.time.display()),
                    ]
                })
                .collect();
            let mut s = section(
                None,
                "47519-4",
                "Procedure eseguite",
                "Procedure eseguite durante il ricovero",
            )
            .child(El::new("text").child(narrative::table(&["Procedura", "Codice", "Data"], rows)));
            for (i, proc) in self.procedures.iter().enumerate() {
                s.push(
                    El::new("entry").child(
                        El::new("procedure")
                            .attr("classCode", "PROC")
                            .attr("moodCode", "EVN")
                            .child(proc.code.element("code", OID_ICD9CM))
                            .child(narrative::text_ref(&format!("procedura{}", i + 1)))
                            .child(status("completed"))
                            .child(narrative::effective_at(&proc.time)),
                    ),
                );
            }
            body.push(component(s));
        }

        let discharged = input
            .encounter
            .as_ref()
            .and_then(|e| e.end.as_ref())
            .unwrap_or(now);
        let mut text = text_paragraphs(&self.discharge.text);
        if !self.discharge.diagnoses.is_empty() {
            text.push(narrative::table(
                &["Diagnosi di dimissione", "Codice"],
                diagnosis_rows(&self.discharge.diagnoses, "dimissione"),
            ));
        }
        let mut s = section(
            None,
            "11535-2",
            "Diagnosi di dimissione ospedaliera",
            "Condizioni del paziente e diagnosi alla dimissione",
        )
        .child(text);
        for (i, d) in self.discharge.diagnoses.iter().enumerate() {
            s.push(El::new("entry").child(d.observation(
                "8651-2",
                "Diagnosi di dimissione ospedaliera",
                &format!("dimissione{}", i + 1),
                discharged,
            )));
        }
        body.push(component(s));

        if !self.discharge_therapy.is_empty() {
            let rows = self
                .discharge_therapy
                .iter()
                .enumerate()
                .map(|(i, m)| m.row(&format!("terapia{}", i + 1)))
                .collect();
            let mut s = section(
                None,
                "10183-2",
                "Farmaci alla dimissione",
                "Terapia farmacologica alla dimissione",
            )
            .child(
                El::new("text").child(narrative::table(&["Farmaco", "Posologia", "Periodo"], rows)),
            );
            for (i, m) in self.discharge_therapy.iter().enumerate() {
                s.push(El::new("entry").child(m.substance_administration(
                    "INT",
                    &format!("terapia{}", i + 1),
                    None,
                )));
            }
            body.push(component(s));
        }
        if let Some(f) = &self.follow_up {
            body.push(component(
                section(None, "18776-5", "Piano di cura", "Istruzioni di follow-up")
                    .child(text_paragraphs(f)),
            ));
        }
        body
    }
}
