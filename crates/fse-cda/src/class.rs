//! The Gateway's correlation between a document's LOINC code and its
//! high-level class (`tipoDocumentoLivAlto`).
//!
//! A publication whose `tipoDocumentoLivAlto` is not the class correlated
//! with the CDA's code gets 400 "Non c'è correlazione…"; a code that
//! correlates with no class cannot be published at all.

use fse_model::tables::DocumentClass as Class;

/// The `tipoDocumentoLivAlto` the Gateway correlates with a document's
/// LOINC code (fse-model's [`DocumentClass`](fse_model::tables::DocumentClass)),
/// `None` when it correlates none.
pub fn for_loinc(code: &str) -> Option<Class> {
    Some(match code {
        "11502-2" | "68604-8" | "11526-1" | "11488-4" | "75496-0" | "85208-7" => Class::Ref,
        "34105-7" | "18842-5" => Class::Ldo,
        "60591-5" | "55750-4" | "101881-1" => Class::Sum,
        "57833-6" | "57829-4" | "57832-8" => Class::Prs,
        "29304-3" | "81223-0" | "103144-2" | "103145-9" | "103146-7" | "103147-5" => Class::Pre,
        "57827-8" => Class::Ese,
        "18776-5" => Class::Pdc,
        "59258-4" => Class::Vrb,
        "87273-9" | "82593-5" => Class::Vac,
        "97500-3" | "97499-8" => Class::Cer,
        "104531-9" => Class::Crt,
        "59284-0" | "101133-7" => Class::Con,
        "68814-3" => Class::Cnt,
        "103140-0" | "53576-5" => Class::Tac,
        "101136-0" | "108276-7" => Class::Let,
        "101134-5" => Class::Pro,
        "100971-1" => Class::Col,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_correlation_table_maps_every_listed_code() {
        let table: &[(&str, &[&str])] = &[
            (
                "REF",
                &[
                    "11502-2", "68604-8", "11526-1", "11488-4", "75496-0", "85208-7",
                ],
            ),
            ("LDO", &["34105-7", "18842-5"]),
            ("SUM", &["60591-5", "55750-4", "101881-1"]),
            ("PRS", &["57833-6", "57829-4", "57832-8"]),
            (
                "PRE",
                &[
                    "29304-3", "81223-0", "103144-2", "103145-9", "103146-7", "103147-5",
                ],
            ),
            ("ESE", &["57827-8"]),
            ("PDC", &["18776-5"]),
            ("VRB", &["59258-4"]),
            ("VAC", &["87273-9", "82593-5"]),
            ("CER", &["97500-3", "97499-8"]),
            ("CRT", &["104531-9"]),
            ("CON", &["59284-0", "101133-7"]),
            ("CNT", &["68814-3"]),
            ("TAC", &["103140-0", "53576-5"]),
            ("LET", &["101136-0", "108276-7"]),
            ("PRO", &["101134-5"]),
            ("COL", &["100971-1"]),
        ];
        for (class, codes) in table {
            for code in *codes {
                let model = for_loinc(code).unwrap();
                assert_eq!(model.as_str(), *class);
                assert!(model.is_listed(), "{code}");
            }
        }
        assert_eq!(for_loinc("11502-2"), Some(Class::Ref));
        assert_eq!(for_loinc("60593-1"), None);
        assert_eq!(for_loinc(""), None);
    }
}
