//! Writes a compiled set as Rust tables for `fse_cda::xsd`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, anyhow, bail};

use super::automaton::{self, Automaton};
use super::compile::{Builtin, Compiled, QName, SimpleType, TypeRef, Variety, Whitespace};
use crate::codegen::HEADER;

/// Table indices are u16 at run time (states u32).
fn idx(i: usize) -> anyhow::Result<u16> {
    u16::try_from(i).map_err(|_| anyhow!("table index {i} does not fit in u16"))
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

/// Emits the module for one set.
pub fn emit(compiled: &Compiled, type_id: &str, source: &str) -> anyhow::Result<String> {
    // Namespaces: "" first, then in order of first use.
    let mut namespaces: Vec<String> = vec![String::new()];
    let ns_index = |ns: &str, namespaces: &mut Vec<String>| -> usize {
        if let Some(i) = namespaces.iter().position(|n| n == ns) {
            i
        } else {
            namespaces.push(ns.to_string());
            namespaces.len() - 1
        }
    };

    // Names of elements and attributes, sorted by (local, namespace).
    let mut name_set: Vec<QName> = compiled.elements.iter().map(|e| e.name.clone()).collect();
    for t in &compiled.complex {
        name_set.extend(t.attributes.iter().map(|a| a.name.clone()));
    }
    name_set.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    name_set.dedup();
    let mut ns_of_names = Vec::new();
    for n in &name_set {
        ns_of_names.push(ns_index(&n.0, &mut namespaces));
    }
    let name_id: BTreeMap<&QName, usize> =
        name_set.iter().enumerate().map(|(i, n)| (n, i)).collect();

    // Automata, one per complex type, states numbered globally.
    let mut automata: Vec<Automaton> = Vec::new();
    for (i, t) in compiled.complex.iter().enumerate() {
        let label = t.name.as_ref().map_or_else(
            || format!("anonymous type #{i}"),
            |n| format!("{{{}}}{}", n.0, n.1),
        );
        automata.push(automaton::build(compiled, t.particle.as_ref(), &label)?);
    }

    // Patterns, deduplicated.
    let mut patterns: Vec<&str> = Vec::new();
    for s in &compiled.simple {
        for p in &s.facets.patterns {
            if !patterns.contains(&p.as_str()) {
                patterns.push(p);
            }
        }
    }

    let mut named_ns = Vec::new();
    for (n, _) in &compiled.named {
        named_ns.push(ns_index(&n.0, &mut namespaces));
    }
    let type_ns = |name: &Option<QName>, namespaces: &mut Vec<String>| {
        name.as_ref()
            .map(|n| (ns_index(&n.0, namespaces), n.1.clone()))
    };
    let complex_names: Vec<_> = compiled
        .complex
        .iter()
        .map(|t| type_ns(&t.name, &mut namespaces))
        .collect();
    let simple_names: Vec<_> = compiled
        .simple
        .iter()
        .map(|t| type_ns(&t.name, &mut namespaces))
        .collect();

    let mut out = String::new();
    out.push_str(HEADER);
    writeln!(out, "//! The `{type_id}` XSD set, from `{source}`.")?;
    writeln!(out, "//!")?;
    writeln!(
        out,
        "//! {} element declarations, {} complex types, {} simple types, {} states.",
        compiled.elements.len(),
        compiled.complex.len(),
        compiled.simple.len(),
        automata.iter().map(|a| a.states.len()).sum::<usize>()
    )?;
    out.push('\n');
    out.push_str("use crate::xsd::schema::{\n    Builtin, ComplexType, Content, Element, Facet, Name, NamedType, Schema, SimpleType, State, Transition,\n    TypeRef, Use, Variety, Whitespace, NONE,\n};\n\n");

    writeln!(out, "/// The `{type_id}` set.")?;
    out.push_str("pub(crate) static SCHEMA: Schema = Schema {\n");
    writeln!(out, "    type_id: {},", lit(type_id))?;
    out.push_str("    namespaces: NAMESPACES,\n    names: NAMES,\n    roots: ROOTS,\n    elements: ELEMENTS,\n");
    out.push_str("    complex_types: COMPLEX_TYPES,\n    simple_types: SIMPLE_TYPES,\n    named_types: NAMED_TYPES,\n");
    out.push_str("    patterns: PATTERNS,\n    states: STATES,\n    transitions: TRANSITIONS,\n    expected: EXPECTED,\n};\n\n");

    out.push_str("static NAMESPACES: &[&str] = &[\n");
    for ns in &namespaces {
        writeln!(out, "    {},", lit(ns))?;
    }
    out.push_str("];\n\n");

    out.push_str("static NAMES: &[Name] = &[\n");
    for (i, n) in name_set.iter().enumerate() {
        writeln!(
            out,
            "    /* {i} */ Name::new({}, {}),",
            ns_of_names[i],
            lit(&n.1)
        )?;
    }
    out.push_str("];\n\n");

    out.push_str("static ROOTS: &[u16] = &[");
    for (i, r) in compiled.roots.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write!(out, "{}", idx(*r)?)?;
    }
    out.push_str("];\n\n");

    out.push_str("static ELEMENTS: &[Element] = &[\n");
    for (i, e) in compiled.elements.iter().enumerate() {
        let name = name_id.get(&e.name).context("element name")?;
        writeln!(
            out,
            "    /* {i} */ Element::new({name}, {}, {}), // {}",
            type_ref(e.ty)?,
            e.nillable,
            e.name.1
        )?;
    }
    out.push_str("];\n\n");

    // States: each complex type's automaton, appended. Transitions go to
    // one flat table where a state's list is a run; lists that already
    // occur as a run (a suffix, typically) are shared.
    let mut state_base = Vec::new();
    let mut total = 0usize;
    for a in &automata {
        state_base.push(total);
        total += a.states.len();
    }
    let mut runs: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut name_runs: Vec<Vec<usize>> = Vec::new();
    for (i, a) in automata.iter().enumerate() {
        for st in &a.states {
            runs.push(
                st.transitions
                    .iter()
                    .map(|&(d, to)| (d, state_base[i] + to))
                    .collect(),
            );
            for list in [&st.unexpected, &st.missing] {
                let mut names = Vec::new();
                for &d in list {
                    names.push(
                        *name_id
                            .get(&compiled.elements[d].name)
                            .context("expected name")?,
                    );
                }
                name_runs.push(names);
            }
        }
    }
    let (flat, run_start) = share_runs(&runs);
    let (flat_names, name_start) = share_runs(&name_runs);

    out.push_str("static COMPLEX_TYPES: &[ComplexType] = &[\n");
    for (i, t) in compiled.complex.iter().enumerate() {
        let content = match (t.particle.is_some(), t.mixed) {
            (_, true) => "Mixed",
            (true, false) => "Elements",
            (false, false) => "Empty",
        };
        let base = t.base.map_or(Ok("None".to_string()), |b| {
            type_ref(b).map(|s| format!("Some({s})"))
        })?;
        let mut attributes = Vec::new();
        for a in &t.attributes {
            let name = name_id.get(&a.name).context("attribute name")?;
            let fixed = a
                .fixed
                .as_ref()
                .map_or("None".to_string(), |f| format!("Some({})", lit(f)));
            attributes.push(format!(
                "Use::new({name}, {}, {}, {fixed})",
                idx(a.ty)?,
                a.required
            ));
        }
        writeln!(
            out,
            "    /* {i} {} */ ComplexType::new({base}, {}, Content::{content}, {}, &[{}]),",
            complex_names[i]
                .as_ref()
                .map_or("anonymous", |(_, n)| n.as_str()),
            t.is_abstract,
            state_base[i],
            attributes.join(", ")
        )?;
    }
    out.push_str("];\n\n");

    out.push_str("static STATES: &[State] = &[\n");
    let mut r = 0;
    for (i, a) in automata.iter().enumerate() {
        let label = complex_names[i].as_ref().map_or_else(
            || format!("anonymous type {i}"),
            |(_, n)| format!("{n} (type {i})"),
        );
        writeln!(out, "    // {label}")?;
        for st in &a.states {
            let (u, m) = (2 * r, 2 * r + 1);
            writeln!(
                out,
                "    State::new({}, {}, {}, {}, {}, {}, {}),",
                st.accepting,
                run_start[r],
                runs[r].len(),
                name_start[u],
                name_runs[u].len(),
                name_start[m],
                name_runs[m].len()
            )?;
            r += 1;
        }
    }
    out.push_str("];\n\n");

    out.push_str("static TRANSITIONS: &[Transition] = &[\n");
    for (k, &(decl, to)) in flat.iter().enumerate() {
        let e = &compiled.elements[decl];
        let name = name_id.get(&e.name).context("transition name")?;
        writeln!(
            out,
            "    /* {k} */ Transition::new({name}, {}, {to}), // {}",
            idx(decl)?,
            e.name.1
        )?;
    }
    out.push_str("];\n\n");

    out.push_str("static EXPECTED: &[u16] = &[\n");
    for chunk in flat_names.chunks(16) {
        let items: Vec<String> = chunk.iter().map(usize::to_string).collect();
        writeln!(out, "    {},", items.join(", "))?;
    }
    out.push_str("];\n\n");

    // Enumerations, deduplicated (chameleon copies repeat them).
    let mut enums: Vec<&Vec<String>> = Vec::new();
    for st in &compiled.simple {
        if !st.facets.enumeration.is_empty() && !enums.contains(&&st.facets.enumeration) {
            enums.push(&st.facets.enumeration);
        }
    }
    out.push_str("static SIMPLE_TYPES: &[SimpleType] = &[\n");
    for (i, st) in compiled.simple.iter().enumerate() {
        // The enumeration in force: the type's own, else its nearest base's.
        let own = effective_enumeration(st, compiled);
        let enumeration = match enums.iter().position(|e| *e == own) {
            Some(e) if !own.is_empty() => format!("&ENUM_{e}, &ENUM_{e}_SORTED"),
            _ => "&[], &[]".to_string(),
        };
        emit_simple(
            &mut out,
            i,
            st,
            &simple_names[i],
            &patterns,
            compiled,
            &enumeration,
        )?;
    }
    out.push_str("];\n\n");
    for (e, list) in enums.iter().enumerate() {
        writeln!(out, "static ENUM_{e}: [&str; {}] = [", list.len())?;
        for chunk in list.chunks(8) {
            let items: Vec<String> = chunk.iter().map(|v| lit(v)).collect();
            writeln!(out, "    {},", items.join(", "))?;
        }
        out.push_str("];\n");
        // The same values' indices in byte order, for binary search.
        let mut order: Vec<usize> = (0..list.len()).collect();
        order.sort_by(|&a, &b| list[a].as_bytes().cmp(list[b].as_bytes()));
        let order: Vec<String> = order.iter().map(usize::to_string).collect();
        writeln!(
            out,
            "static ENUM_{e}_SORTED: [u16; {}] = [{}];",
            list.len(),
            order.join(", ")
        )?;
    }
    out.push('\n');

    out.push_str("static NAMED_TYPES: &[NamedType] = &[\n");
    for (i, (n, t)) in compiled.named.iter().enumerate() {
        let ty = match t {
            Some(t) => format!("Some({})", type_ref(*t)?),
            None => "None".to_string(),
        };
        writeln!(
            out,
            "    NamedType::new({}, {}, {ty}),",
            named_ns[i],
            lit(&n.1)
        )?;
    }
    out.push_str("];\n\n");

    out.push_str("static PATTERNS: &[&str] = &[\n");
    for p in &patterns {
        writeln!(out, "    {},", lit(p))?;
    }
    out.push_str("];\n");
    Ok(out)
}

/// Lays runs end to end in one table, a run that already occurs in it
/// (typically as a suffix of a longer one) being shared; returns the table
/// and each run's start.
fn share_runs<T: Clone + PartialEq>(runs: &[Vec<T>]) -> (Vec<T>, Vec<usize>) {
    let mut flat: Vec<T> = Vec::new();
    let mut start = vec![0usize; runs.len()];
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by_key(|&r| std::cmp::Reverse(runs[r].len()));
    for r in order {
        let run = &runs[r];
        if run.is_empty() {
            continue;
        }
        match flat.windows(run.len()).position(|w| w == run.as_slice()) {
            Some(at) => start[r] = at,
            None => {
                start[r] = flat.len();
                flat.extend_from_slice(run);
            }
        }
    }
    (flat, start)
}

fn type_ref(t: TypeRef) -> anyhow::Result<String> {
    Ok(match t {
        TypeRef::Simple(i) => format!("TypeRef::Simple({})", idx(i)?),
        TypeRef::Complex(i) => format!("TypeRef::Complex({})", idx(i)?),
    })
}

fn opt_name(name: &Option<(usize, String)>) -> String {
    match name {
        Some((ns, local)) => format!("Some(({ns}, {}))", lit(local)),
        None => "None".to_string(),
    }
}

fn builtin_variant(b: Builtin) -> &'static str {
    match b {
        Builtin::AnySimpleType => "AnySimpleType",
        Builtin::String => "String",
        Builtin::NormalizedString => "NormalizedString",
        Builtin::Token => "Token",
        Builtin::Nmtoken => "Nmtoken",
        Builtin::Nmtokens => "Nmtokens",
        Builtin::Name => "Name",
        Builtin::NcName => "NcName",
        Builtin::Id => "Id",
        Builtin::Idref => "Idref",
        Builtin::Idrefs => "Idrefs",
        Builtin::Boolean => "Boolean",
        Builtin::Decimal => "Decimal",
        Builtin::Integer => "Integer",
        Builtin::Double => "Double",
        Builtin::AnyUri => "AnyUri",
        Builtin::Base64Binary => "Base64Binary",
    }
}

/// The length and range facets in effect: own ones, then the base's that
/// are not overridden (libxml2's facetSet; enumerations and patterns are
/// walked up the base chain at run time instead).
fn effective_facets(s: &SimpleType, compiled: &Compiled) -> Vec<String> {
    let own = |s: &SimpleType| {
        let f = &s.facets;
        let mut v: Vec<(&'static str, String)> = Vec::new();
        if let Some(n) = f.length {
            v.push(("Length", n.to_string()));
        }
        if let Some(n) = f.min_length {
            v.push(("MinLength", n.to_string()));
        }
        if let Some(n) = f.max_length {
            v.push(("MaxLength", n.to_string()));
        }
        for (kind, value) in [
            ("MinInclusive", &f.min_inclusive),
            ("MaxInclusive", &f.max_inclusive),
            ("MinExclusive", &f.min_exclusive),
            ("MaxExclusive", &f.max_exclusive),
        ] {
            if let Some(value) = value {
                v.push((kind, lit(value)));
            }
        }
        v
    };
    let mut all = own(s);
    let mut base = s.base;
    while let Some(b) = base {
        let bt = &compiled.simple[b];
        for (kind, value) in own(bt) {
            if !all.iter().any(|(k, _)| *k == kind) {
                all.push((kind, value));
            }
        }
        base = bt.base;
    }
    all.into_iter()
        .map(|(k, v)| format!("Facet::{k}({v})"))
        .collect()
}

/// The enumeration in force for a type: its own, else the nearest base's
/// (libxml2 checks only that one).
fn effective_enumeration<'c>(s: &'c SimpleType, compiled: &'c Compiled) -> &'c Vec<String> {
    let mut at = s;
    while at.facets.enumeration.is_empty() {
        match at.base {
            Some(b) => at = &compiled.simple[b],
            None => break,
        }
    }
    &at.facets.enumeration
}

fn emit_simple(
    out: &mut String,
    i: usize,
    s: &SimpleType,
    name: &Option<(usize, String)>,
    patterns: &[&str],
    compiled: &Compiled,
    enumeration: &str,
) -> anyhow::Result<()> {
    let variety = match &s.variety {
        Variety::Atomic(b) => format!("Variety::Atomic(Builtin::{})", builtin_variant(*b)),
        Variety::List(item) => format!("Variety::List({})", idx(*item)?),
        Variety::Union(members) => {
            let m: Vec<String> = members
                .iter()
                .map(|&m| idx(m).map(|m| m.to_string()))
                .collect::<Result<_, _>>()?;
            format!("Variety::Union(&[{}])", m.join(", "))
        }
    };
    let opt =
        |o: Option<usize>| o.map_or(Ok("NONE".to_string()), |b| idx(b).map(|b| b.to_string()));
    let ws = match s.whitespace {
        Whitespace::Preserve => "Preserve",
        Whitespace::Replace => "Replace",
        Whitespace::Collapse => "Collapse",
    };
    if s.builtin.is_some() && s.base.is_some() {
        bail!("a built-in with a base");
    }
    // A built-in list's minLength 1 is the list rule's business.
    let facets = if s.builtin.is_some() {
        Vec::new()
    } else {
        effective_facets(s, compiled)
    };
    // Pattern levels, the type's then each base's: every level must match
    // one of its patterns.
    let mut levels: Vec<String> = Vec::new();
    let mut at = Some(s);
    while let Some(t) = at {
        if !t.facets.patterns.is_empty() {
            let level: Vec<String> = t
                .facets
                .patterns
                .iter()
                .map(|p| {
                    patterns
                        .iter()
                        .position(|q| q == p)
                        .map(|i| i.to_string())
                        .ok_or_else(|| anyhow!("pattern"))
                })
                .collect::<Result<_, _>>()?;
            levels.push(format!("&[{}]", level.join(", ")));
        }
        at = t.base.map(|b| &compiled.simple[b]);
    }
    writeln!(
        out,
        "    /* {i} */ SimpleType::new({}, {variety}, {}, Whitespace::{ws}, {}, {}, &[{}], {enumeration}, &[{}]),",
        opt_name(name),
        opt(s.derivation_base)?,
        s.has_facets,
        s.normalize,
        facets.join(", "),
        levels.join(", ")
    )?;
    Ok(())
}
