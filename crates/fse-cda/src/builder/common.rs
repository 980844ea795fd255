//! Clinical items several bodies share: the reason for a visit, diagnoses,
//! medications, procedures.

use serde::Deserialize;

use super::Problems;
use super::lab::{check_unit, is_decimal};
use super::narrative::{self, status};
use super::types::{Coded, Timestamp, check_interval};
use super::xml::El;

/// ICD-9-CM, the code system of diagnoses and procedures in the Italian IGs.
pub const OID_ICD9CM: &str = "2.16.840.1.113883.6.103";
/// AIC, the Italian marketing authorisation code of a medicinal product.
pub const OID_AIC: &str = "2.16.840.1.113883.2.9.6.1.5";
/// ATC, the anatomical therapeutic chemical classification.
pub const OID_ATC: &str = "2.16.840.1.113883.6.73";
/// Gruppi di equivalenza (class of equivalent products).
pub const OID_GE: &str = "2.16.840.1.113883.2.9.6.1.51";
const OID_ROUTE: &str = "2.16.840.1.113883.5.112";

/// The reason for the examination or visit (quesito diagnostico): a text,
/// and the suspected diagnosis in ICD-9-CM when known.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// The reason, as the requesting doctor wrote it.
    pub text: String,
    /// The suspected diagnosis (ICD-9-CM when no system is given).
    #[serde(default)]
    pub diagnosis: Option<Coded>,
}

impl Reason {
    pub(crate) fn check(&self, p: &mut Problems, field: &str) {
        if self.text.trim().is_empty() {
            p.push(format!("{field}.text"), "must not be empty");
        }
        if let Some(d) = &self.diagnosis {
            d.check(p, &format!("{field}.diagnosis"));
            d.check_system(p, &format!("{field}.diagnosis"), &[OID_ICD9CM]);
        }
    }
}

/// A diagnosis: an ICD-9-CM code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diagnosis {
    /// The code (ICD-9-CM when no system is given).
    pub code: Coded,
    /// When it was made; defaults to the document's effective time.
    #[serde(default)]
    pub time: Option<Timestamp>,
}

impl Diagnosis {
    pub(crate) fn check(&self, p: &mut Problems, field: &str) {
        self.code.check(p, &format!("{field}.code"));
        self.code
            .check_system(p, &format!("{field}.code"), &[OID_ICD9CM]);
    }

    /// `<observation>` with the given LOINC code and the diagnosis as `value`.
    pub(crate) fn observation(
        &self,
        code: &str,
        display: &str,
        text_id: &str,
        default_time: &Timestamp,
    ) -> El {
        El::new("observation")
            .attr("classCode", "OBS")
            .attr("moodCode", "EVN")
            .child(narrative::loinc("code", code, display))
            .child(narrative::text_ref(text_id))
            .child(status("completed"))
            .child(narrative::effective_at(
                self.time.as_ref().unwrap_or(default_time),
            ))
            .child(
                self.code
                    .element("value", OID_ICD9CM)
                    .attr("xsi:type", "CD"),
            )
    }
}

/// A quantity: a decimal number and a UCUM unit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantity {
    /// The number.
    pub value: String,
    /// The UCUM unit (`1` for a count such as tablets).
    #[serde(default = "unity")]
    pub unit: String,
}

fn unity() -> String {
    "1".to_string()
}

/// A medication taken, recommended or prescribed at discharge.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Medication {
    /// The product: AIC when no system is given; ATC
    /// (`2.16.840.1.113883.6.73`) or an equivalence group
    /// (`2.16.840.1.113883.2.9.6.1.51`) also do.
    pub drug: Coded,
    /// The dose per administration.
    #[serde(default)]
    pub dose: Option<Quantity>,
    /// HL7 RouteOfAdministration code (`PO` oral, …).
    #[serde(default)]
    pub route: Option<Coded>,
    /// How to take it, in words (`1 compressa la sera`).
    #[serde(default)]
    pub instructions: Option<String>,
    /// From when.
    pub start: Timestamp,
    /// Until when, if it ends.
    #[serde(default)]
    pub end: Option<Timestamp>,
}

impl Medication {
    pub(crate) fn check(&self, p: &mut Problems, field: &str) {
        self.drug.check(p, &format!("{field}.drug"));
        self.drug
            .check_system(p, &format!("{field}.drug"), &[OID_AIC, OID_ATC, OID_GE]);
        if let Some(dose) = &self.dose {
            if !is_decimal(&dose.value) {
                p.push(
                    format!("{field}.dose.value"),
                    format!("{:?} is not a decimal number", dose.value),
                );
            }
            check_unit(p, &format!("{field}.dose.unit"), &dose.unit);
        }
        if let Some(route) = &self.route {
            route.check(p, &format!("{field}.route"));
            route.check_system(p, &format!("{field}.route"), &[OID_ROUTE]);
        }
        if let Some(end) = &self.end {
            check_interval(p, &format!("{field}.end"), &self.start, end);
        }
    }

    /// The narrative row: product, dose and route, instructions, period.
    pub(crate) fn row(&self, id: &str) -> Vec<narrative::Cell> {
        let dose = self.dose.as_ref().map(|d| {
            if d.unit == "1" {
                d.value.clone()
            } else {
                format!("{} {}", d.value, d.unit)
            }
        });
        let how = [
            dose,
            self.route.as_ref().map(|r| r.label().to_string()),
            self.instructions.clone(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        let period = match &self.end {
            Some(end) => format!("dal {} al {}", self.start.display(), end.display()),
            None => format!("dal {}", self.start.display()),
        };
        vec![
            narrative::Cell::with_id(self.drug.label(), id),
            narrative::Cell::new(how),
            narrative::Cell::new(period),
        ]
    }

    /// `<substanceAdministration>` in the given mood (EVN, INT, PRP).
    pub(crate) fn substance_administration(
        &self,
        mood: &str,
        text_id: &str,
        template: Option<&str>,
    ) -> El {
        let status_code = if self.end.is_some() {
            "completed"
        } else {
            "active"
        };
        El::new("substanceAdministration")
            .attr("classCode", "SBADM")
            .attr("moodCode", mood)
            .child_opt(template.map(|t| El::new("templateId").attr("root", t)))
            .child(narrative::text_ref(text_id))
            .child(status(status_code))
            .child(narrative::effective_interval(
                &self.start,
                self.end.as_ref(),
                Some("IVL_TS"),
            ))
            .child_opt(
                self.route
                    .as_ref()
                    .map(|r| r.element("routeCode", OID_ROUTE)),
            )
            .child_opt(self.dose.as_ref().map(|d| {
                El::new("doseQuantity")
                    .attr("value", d.value.clone())
                    .attr("unit", d.unit.clone())
            }))
            .child(
                El::new("consumable").child(
                    El::new("manufacturedProduct").child(
                        El::new("manufacturedMaterial")
                            .child(self.drug.element("code", OID_AIC))
                            .child_opt(
                                self.drug
                                    .display
                                    .as_ref()
                                    .map(|d| El::new("name").text(d.clone())),
                            ),
                    ),
                ),
            )
    }
}

/// A procedure performed (ICD-9-CM).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Procedure {
    /// The procedure (ICD-9-CM when no system is given).
    pub code: Coded,
    /// When.
    pub time: Timestamp,
}

impl Procedure {
    pub(crate) fn check(&self, p: &mut Problems, field: &str) {
        self.code.check(p, &format!("{field}.code"));
        self.code.check_system(
            p,
            &format!("{field}.code"),
            &[OID_ICD9CM, crate::metadata::OID_LOINC],
        );
    }
}

/// The cells of a list of diagnoses: code and meaning, one row each.
pub(crate) fn diagnosis_rows(items: &[Diagnosis], prefix: &str) -> Vec<Vec<narrative::Cell>> {
    items
        .iter()
        .enumerate()
        .map(|(i, d)| {
            vec![
                narrative::Cell::with_id(d.code.label(), format!("{prefix}{}", i + 1)),
                narrative::Cell::new(format!("ICD-9-CM {}", d.code.code)),
            ]
        })
        .collect()
}
