//! Obscuring (oscuramento): who may see a document in the FSE.
//!
//! Two things carry a document's visibility, and they must agree:
//! - the CDA's `confidentialityCode` (copied into the XDS metadata): `V`
//!   for data under reinforced protection, `N` otherwise;
//! - the publication request's `attiCliniciRegoleAccesso` event codes
//!   (INI `eventCodeList`): `P99` obscured, `P00` made visible at feeding
//!   by the patient's explicit choice.
//!
//! [`Visibility`] is the provider's choice; [`Visibility::policy`] gives the
//! pair to write and send. [`check`] reports every disagreement between
//! a document and the codes about to be sent, which INI would otherwise
//! refuse with R227 after the Gateway accepted the request. The rules
//! (Affinity Domain 2.6.3+, DM 7 September 2023 arts. 6 and 9) are
//! summarised in `docs/obscuring.md`:
//! - `V` requires exactly one of `P99` (obscured, the default) or `P00`
//!   (the patient chose visibility);
//! - a document that is not `V` carries `P99` only if obscured, and never `P00`;
//! - `P97` (obscured to the parent) and `P98` (obscured to the patient)
//!   are not used in interoperability and are refused;
//! - one visibility code at a time.
//!
//! Services delivered anonymously are not sent at all.

use std::fmt;

use fse_model::tables::EventCode;

use crate::error::{Error, Result};
use crate::metadata::{Confidentiality, Metadata};

/// Why data are under reinforced protection (DM 7 September 2023, art. 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtectedCategory {
    /// People living with HIV.
    Hiv,
    /// Voluntary termination of pregnancy.
    VoluntaryAbortion,
    /// Victims of sexual violence or paedophilia.
    SexualViolence,
    /// Users of drugs, psychotropic substances or alcohol.
    SubstanceUse,
    /// Women who give birth without being named (parto in anonimato).
    AnonymousBirth,
    /// Services of family counselling centres (consultori familiari).
    FamilyCounselling,
}

impl ProtectedCategory {
    /// Every category.
    pub const ALL: [ProtectedCategory; 6] = [
        Self::Hiv,
        Self::VoluntaryAbortion,
        Self::SexualViolence,
        Self::SubstanceUse,
        Self::AnonymousBirth,
        Self::FamilyCounselling,
    ];

    /// A short Italian description.
    pub fn description(self) -> &'static str {
        match self {
            Self::Hiv => "sieropositività HIV",
            Self::VoluntaryAbortion => "interruzione volontaria di gravidanza",
            Self::SexualViolence => "vittime di violenza sessuale o pedofilia",
            Self::SubstanceUse => "uso di sostanze stupefacenti, psicotrope o alcol",
            Self::AnonymousBirth => "parto in anonimato",
            Self::FamilyCounselling => "servizi offerti dai consultori familiari",
        }
    }
}

/// The provider's choice about a document's visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Visible, under the patient's consents.
    Visible,
    /// Obscured because the patient asked (art. 9).
    ObscuredByPatient,
    /// Data under reinforced protection (art. 6): obscured unless the
    /// patient explicitly chose to make them visible.
    ProtectedByLaw {
        /// The reason for the protection.
        category: ProtectedCategory,
        /// Whether the patient explicitly chose visibility (`P00`).
        visible_by_patient_choice: bool,
    },
    /// A service delivered anonymously: the FSE is not fed with it.
    Anonymous,
}

/// What a [`Visibility`] means on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    /// The CDA's `confidentialityCode`.
    pub confidentiality: Confidentiality,
    /// The visibility event codes for `attiCliniciRegoleAccesso` (at most one).
    pub event_codes: Vec<EventCode>,
}

impl AccessPolicy {
    /// The code for the builder's `document.confidentiality`.
    pub fn confidentiality_code(&self) -> crate::builder::ConfidentialityCode {
        match self.confidentiality {
            Confidentiality::VeryRestricted => crate::builder::ConfidentialityCode::V,
            Confidentiality::Restricted => crate::builder::ConfidentialityCode::R,
            _ => crate::builder::ConfidentialityCode::N,
        }
    }
}

impl Visibility {
    /// The confidentiality code and event codes for this choice.
    ///
    /// # Errors
    /// [`Error::Obscuring`] for [`Visibility::Anonymous`]: such a
    /// document must not be sent.
    pub fn policy(self) -> Result<AccessPolicy> {
        let (confidentiality, event_codes) = match self {
            Self::Visible => (Confidentiality::Normal, vec![]),
            Self::ObscuredByPatient => (Confidentiality::Normal, vec![EventCode::P99]),
            Self::ProtectedByLaw {
                visible_by_patient_choice: false,
                ..
            } => (Confidentiality::VeryRestricted, vec![EventCode::P99]),
            Self::ProtectedByLaw {
                visible_by_patient_choice: true,
                ..
            } => (Confidentiality::VeryRestricted, vec![EventCode::P00]),
            Self::Anonymous => {
                return Err(Error::Obscuring(
                    "a service delivered anonymously is not sent to the FSE (DM 7 September 2023, art. 6)".into(),
                ));
            }
        };
        Ok(AccessPolicy {
            confidentiality,
            event_codes,
        })
    }
}

/// One disagreement between a document and the event codes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    /// A short name of the rule broken.
    pub rule: PolicyRule,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule.as_str(), self.message)
    }
}

/// The rules [`check`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyRule {
    /// `P97` or `P98` were asked for: not used in interoperability.
    RefusedCode,
    /// More than one visibility code.
    OneVisibilityCode,
    /// A `V` document without `P99` or `P00` (INI R227).
    VeryRestrictedNeedsCode,
    /// `P00` on a document that is not `V`.
    UnprotectedWithP00,
    /// The document has no usable confidentiality code.
    UnknownConfidentiality,
}

impl PolicyRule {
    /// A stable name, for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RefusedCode => "refused-code",
            Self::OneVisibilityCode => "one-visibility-code",
            Self::VeryRestrictedNeedsCode => "very-restricted-needs-p99-or-p00",
            Self::UnprotectedWithP00 => "p00-only-for-very-restricted",
            Self::UnknownConfidentiality => "unknown-confidentiality",
        }
    }
}

fn is_visibility(code: &EventCode) -> bool {
    matches!(
        code,
        EventCode::P99 | EventCode::P00 | EventCode::P97 | EventCode::P98
    )
}

/// Every disagreement between a document's `confidentialityCode` and the
/// event codes about to be sent; empty when they agree. Event codes that
/// are not about visibility (vaccines, tests, …) are ignored.
pub fn check(
    confidentiality: Option<&Confidentiality>,
    event_codes: &[EventCode],
) -> Vec<PolicyProblem> {
    let mut problems = Vec::new();
    let mut push = |rule, message: String| problems.push(PolicyProblem { rule, message });
    for code in event_codes
        .iter()
        .filter(|c| matches!(c, EventCode::P97 | EventCode::P98))
    {
        push(
            PolicyRule::RefusedCode,
            format!(
                "{} is not used in interoperability: only P99 and P00 are",
                code.as_str()
            ),
        );
    }
    let visibility: Vec<&EventCode> = event_codes.iter().filter(|c| is_visibility(c)).collect();
    if visibility.len() > 1 {
        let listed: Vec<&str> = visibility.iter().map(|c| c.as_str()).collect();
        push(
            PolicyRule::OneVisibilityCode,
            format!("one visibility code at a time, not {}", listed.join(" + ")),
        );
    }
    let has = |code: &EventCode| event_codes.contains(code);
    match confidentiality {
        Some(Confidentiality::VeryRestricted) => {
            if !has(&EventCode::P99) && !has(&EventCode::P00) {
                push(
                    PolicyRule::VeryRestrictedNeedsCode,
                    "a V (very restricted) document needs P99 (obscured) or P00 (the patient chose visibility); \
                     INI answers R227 otherwise"
                        .into(),
                );
            }
        }
        Some(Confidentiality::Normal | Confidentiality::Restricted) => {
            if has(&EventCode::P00) {
                push(
                    PolicyRule::UnprotectedWithP00,
                    "P00 is for documents under reinforced protection (confidentialityCode V); \
                     this one is not: send P99 to obscure it, or nothing"
                        .into(),
                );
            }
        }
        Some(Confidentiality::Other(code)) => push(
            PolicyRule::UnknownConfidentiality,
            format!("confidentialityCode {code:?} is none of N, R, V"),
        ),
        None => push(
            PolicyRule::UnknownConfidentiality,
            "the document has no confidentialityCode".into(),
        ),
    }
    problems
}

/// [`check`] on a document's metadata.
pub fn check_document(metadata: &Metadata, event_codes: &[EventCode]) -> Vec<PolicyProblem> {
    check(metadata.confidentiality_code.as_ref(), event_codes)
}

/// [`check_document`] as a result: the pre-flight before sending.
///
/// # Errors
/// [`Error::Obscuring`] listing every problem.
pub fn ensure(metadata: &Metadata, event_codes: &[EventCode]) -> Result<()> {
    let problems = check_document(metadata, event_codes);
    if problems.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
    Err(Error::Obscuring(listed.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(c: Option<&Confidentiality>, codes: &[EventCode]) -> Vec<PolicyRule> {
        check(c, codes).into_iter().map(|p| p.rule).collect()
    }

    #[test]
    fn every_choice_gives_a_pair_the_check_accepts() {
        let mut choices = vec![Visibility::Visible, Visibility::ObscuredByPatient];
        for category in ProtectedCategory::ALL {
            for visible in [false, true] {
                choices.push(Visibility::ProtectedByLaw {
                    category,
                    visible_by_patient_choice: visible,
                });
            }
        }
        for choice in choices {
            let policy = choice.policy().unwrap();
            assert!(policy.event_codes.len() <= 1, "{choice:?}");
            assert_eq!(
                check(Some(&policy.confidentiality), &policy.event_codes),
                vec![],
                "{choice:?}"
            );
        }
        assert!(matches!(
            Visibility::Anonymous.policy(),
            Err(Error::Obscuring(_))
        ));
    }

    #[test]
    fn the_mapping_is_the_affinity_domain_one() {
        let p = |v: Visibility| {
            let p = v.policy().unwrap();
            (
                p.confidentiality.code().to_string(),
                p.event_codes
                    .iter()
                    .map(|c| c.as_str().to_string())
                    .collect::<Vec<_>>(),
            )
        };
        let hiv = ProtectedCategory::Hiv;
        assert_eq!(p(Visibility::Visible), ("N".into(), vec![]));
        assert_eq!(
            p(Visibility::ObscuredByPatient),
            ("N".into(), vec!["P99".into()])
        );
        assert_eq!(
            p(Visibility::ProtectedByLaw {
                category: hiv,
                visible_by_patient_choice: false
            }),
            ("V".into(), vec!["P99".into()])
        );
        assert_eq!(
            p(Visibility::ProtectedByLaw {
                category: hiv,
                visible_by_patient_choice: true
            }),
            ("V".into(), vec!["P00".into()])
        );
    }

    #[test]
    fn mismatches_are_reported() {
        let v = Confidentiality::VeryRestricted;
        let n = Confidentiality::Normal;
        assert_eq!(
            rules(Some(&v), &[]),
            vec![PolicyRule::VeryRestrictedNeedsCode]
        );
        assert_eq!(
            rules(Some(&v), &[EventCode::from_wire("J07BX")]),
            vec![PolicyRule::VeryRestrictedNeedsCode]
        );
        assert_eq!(rules(Some(&v), &[EventCode::P99]), vec![]);
        assert_eq!(rules(Some(&v), &[EventCode::P00]), vec![]);
        assert_eq!(
            rules(Some(&v), &[EventCode::P99, EventCode::P00]),
            vec![PolicyRule::OneVisibilityCode]
        );
        assert_eq!(
            rules(Some(&v), &[EventCode::P97]),
            vec![PolicyRule::RefusedCode, PolicyRule::VeryRestrictedNeedsCode]
        );
        assert_eq!(rules(Some(&n), &[]), vec![]);
        assert_eq!(rules(Some(&n), &[EventCode::P99]), vec![]);
        assert_eq!(
            rules(Some(&n), &[EventCode::P00]),
            vec![PolicyRule::UnprotectedWithP00]
        );
        assert_eq!(
            rules(Some(&n), &[EventCode::P98]),
            vec![PolicyRule::RefusedCode]
        );
        assert_eq!(
            rules(Some(&Confidentiality::Restricted), &[EventCode::P99]),
            vec![]
        );
        assert_eq!(rules(None, &[]), vec![PolicyRule::UnknownConfidentiality]);
        assert_eq!(
            rules(Some(&Confidentiality::Other("X".into())), &[]),
            vec![PolicyRule::UnknownConfidentiality]
        );
    }
}
