//! Content models to deterministic automata (Glushkov construction).
//!
//! Each element particle occurrence is a position; a state is "the last
//! position matched" (or the start). The schema's Unique Particle
//! Attribution makes the result deterministic; we check it anyway.
//!
//! libxml2 behaviours reproduced, parity with it being the bar:
//! - an element with `maxOccurs="0"` is not dropped: it may occur once, and
//!   after it nothing more may follow, though the content may end there;
//! - the names after "Expected is" come from libxml2's own automaton. For a
//!   content model without counters (libxml2's "compact" form) they are the
//!   possible next names, ordered by their first appearance in the model.
//!   A model with counted loops (a `choice` with `maxOccurs` above 1, an
//!   element with `minOccurs` 2 or more, or `maxOccurs="0"`) is run by
//!   libxml2 with backtracking: when an unexpected element ends a loop
//!   iteration, libxml2 leaves the loop before giving up, so it lists what
//!   may follow the loop instead; and a missing element is reported with
//!   the loop's own names only.

use std::collections::BTreeSet;

use anyhow::bail;

use super::compile::{Compiled, Max, Particle, QName};

/// One state of an automaton.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub accepting: bool,
    /// (element declaration, target state within this automaton).
    pub transitions: Vec<(usize, usize)>,
    /// Element declarations listed when an unexpected element comes here.
    pub unexpected: Vec<usize>,
    /// Element declarations listed when the content ends here too early.
    pub missing: Vec<usize>,
}

/// A compiled content model; state 0 is the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Automaton {
    pub states: Vec<State>,
}

/// A position (an element occurrence) or the end marker of a counted loop
/// (which never starts anything but, sitting in `last` sets, collects what
/// may follow the loop as its follow set).
#[derive(Debug, Clone, Copy)]
enum Item {
    Element { decl: usize, trap: bool },
    LoopEnd,
}

#[derive(Debug, Clone, Default)]
struct Info {
    nullable: bool,
    first: BTreeSet<usize>,
    last: BTreeSet<usize>,
}

/// A counted loop: its end marker and the items after which one iteration
/// may end with the loop's exit condition met.
struct Loop {
    marker: usize,
    iteration_ends: BTreeSet<usize>,
}

struct Builder {
    items: Vec<Item>,
    follow: Vec<BTreeSet<usize>>,
    /// Counted loops, innermost first (they are finished first).
    loops: Vec<Loop>,
    /// Whether the model has any counter (libxml2's non-compact form).
    counted: bool,
}

impl Builder {
    fn item(&mut self, item: Item) -> usize {
        self.items.push(item);
        self.follow.push(BTreeSet::new());
        self.items.len() - 1
    }

    fn link(&mut self, from: &BTreeSet<usize>, to: &BTreeSet<usize>) {
        for &f in from {
            self.follow[f].extend(to.iter().copied());
        }
    }

    fn concat(&mut self, a: Info, b: Info) -> Info {
        self.link(&a.last, &b.first);
        let mut first = a.first.clone();
        if a.nullable {
            first.extend(b.first.iter().copied());
        }
        let mut last = b.last.clone();
        if b.nullable {
            last.extend(a.last.iter().copied());
        }
        Info {
            nullable: a.nullable && b.nullable,
            first,
            last,
        }
    }

    fn alternate(a: Info, b: Info) -> Info {
        let mut first = a.first;
        first.extend(b.first);
        let mut last = a.last;
        last.extend(b.last);
        Info {
            nullable: a.nullable || b.nullable,
            first,
            last,
        }
    }

    fn empty() -> Info {
        Info {
            nullable: true,
            ..Info::default()
        }
    }

    /// One occurrence of the particle's term (occurrence bounds ignored).
    fn term(&mut self, p: &Particle) -> Info {
        match p {
            Particle::Element { decl, max, .. } => {
                let i = self.item(Item::Element {
                    decl: *decl,
                    trap: *max == Max::Bounded(0),
                });
                Info {
                    nullable: false,
                    first: [i].into(),
                    last: [i].into(),
                }
            }
            Particle::Sequence { items, .. } => {
                let mut acc = Self::empty();
                for item in items {
                    let next = self.particle(item);
                    acc = self.concat(acc, next);
                }
                acc
            }
            Particle::Choice { items, .. } => {
                let mut acc: Option<Info> = None;
                for item in items {
                    let next = self.particle(item);
                    acc = Some(match acc {
                        None => next,
                        Some(a) => Self::alternate(a, next),
                    });
                }
                acc.unwrap_or_else(Self::empty)
            }
        }
    }

    /// Whether libxml2 builds this particle with a counter.
    fn is_counted(p: &Particle) -> bool {
        match *p {
            Particle::Element { min, max, .. } => match max {
                Max::Bounded(1) => false,
                Max::Unbounded => min >= 2,
                Max::Bounded(_) => true,
            },
            Particle::Choice { max, .. } => max != Max::Bounded(1),
            Particle::Sequence { min, max, .. } => {
                min > 1 || matches!(max, Max::Bounded(n) if n > 1)
            }
        }
    }

    fn particle(&mut self, p: &Particle) -> Info {
        let (min, max) = match p {
            Particle::Element { min, max, .. }
            | Particle::Sequence { min, max, .. }
            | Particle::Choice { min, max, .. } => (*min, *max),
        };
        let counted = Self::is_counted(p);
        self.counted |= counted;
        let trap = matches!(
            p,
            Particle::Element {
                max: Max::Bounded(0),
                ..
            }
        );
        // libxml2 lets a maxOccurs="0" element occur once (see module doc).
        let max = if max == Max::Bounded(0) {
            Max::Bounded(1)
        } else {
            max
        };
        let mut acc = Self::empty();
        // The mandatory copies, then the optional or repeated rest; the
        // last copy's ends are where a counted loop may be left.
        for _ in 0..min.saturating_sub(1) {
            let copy = self.term(p);
            acc = self.concat(acc, copy);
        }
        let (tail, final_ends) = match (min, max) {
            (0, Max::Bounded(n)) => {
                let tail = self.optionals(p, n);
                let ends = tail.last.clone();
                (tail, ends)
            }
            (_, Max::Bounded(n)) => {
                let one = self.term(p);
                let rest = self.optionals(p, n.saturating_sub(min));
                let joined = self.concat(one, rest);
                let ends = joined.last.clone();
                (joined, ends)
            }
            (m, Max::Unbounded) => {
                let mut looped = self.term(p);
                let (last, first) = (looped.last.clone(), looped.first.clone());
                self.link(&last, &first);
                looped.nullable |= m == 0;
                let ends = looped.last.clone();
                (looped, ends)
            }
        };
        let mut info = self.concat(acc, tail);
        if counted && !trap {
            let marker = self.item(Item::LoopEnd);
            info.last.insert(marker);
            self.loops.push(Loop {
                marker,
                iteration_ends: final_ends,
            });
        }
        info
    }

    /// Up to `n` optional occurrences: (p (p (...)?)?)?
    fn optionals(&mut self, p: &Particle, n: u32) -> Info {
        let mut acc = Self::empty();
        for _ in 0..n {
            let one = self.term(p);
            let nested = self.concat(one, acc);
            acc = Info {
                nullable: true,
                ..nested
            };
        }
        acc
    }

    /// The innermost counted loop an iteration of which may end at `item`.
    fn loop_ending_at(&self, item: usize) -> Option<&Loop> {
        self.loops.iter().find(|l| l.iteration_ends.contains(&item))
    }
}

/// Builds the automaton of a content model (`None`: no element content:
/// a single accepting state without transitions).
pub fn build(
    compiled: &Compiled,
    particle: Option<&Particle>,
    type_name: &str,
) -> anyhow::Result<Automaton> {
    let mut b = Builder {
        items: Vec::new(),
        follow: Vec::new(),
        loops: Vec::new(),
        counted: false,
    };
    let info = match particle {
        Some(p) => b.particle(p),
        None => Builder::empty(),
    };
    let decl_of = |i: usize| match b.items[i] {
        Item::Element { decl, .. } => Some(decl),
        Item::LoopEnd => None,
    };
    // Traps: nothing follows, the content may end there.
    for i in 0..b.items.len() {
        if matches!(b.items[i], Item::Element { trap: true, .. }) {
            b.follow[i].clear();
        }
    }
    let name = |i: usize| -> Option<&QName> { decl_of(i).map(|d| &compiled.elements[d].name) };
    // Expected-list rank of a name: its first position in the model.
    let rank = |i: usize| {
        (0..b.items.len())
            .find(|&q| name(q).is_some() && name(q) == name(i))
            .unwrap_or(i)
    };
    let ordered = |set: &BTreeSet<usize>| -> Vec<usize> {
        let mut v: Vec<usize> = set
            .iter()
            .copied()
            .filter(|&i| decl_of(i).is_some())
            .collect();
        v.sort_by_key(|&i| (rank(i), i));
        v.dedup_by_key(|&mut i| rank(i));
        v
    };

    // Element items are states: item i is state i + 1 (loop markers stay
    // unused states, harmless); state 0 is the start.
    let mut states = Vec::with_capacity(b.items.len() + 1);
    let starts = std::iter::once((None, &info.first, info.nullable));
    let rest = b.follow.iter().enumerate().map(|(i, f)| {
        let accepting =
            info.last.contains(&i) || matches!(b.items[i], Item::Element { trap: true, .. });
        (Some(i), f, accepting)
    });
    for (item, next, accepting) in starts.chain(rest) {
        if item.is_some_and(|i| decl_of(i).is_none()) {
            states.push(State {
                accepting: false,
                transitions: Vec::new(),
                unexpected: Vec::new(),
                missing: Vec::new(),
            });
            continue;
        }
        let mut transitions: Vec<(usize, usize)> = Vec::new();
        for q in ordered(next) {
            if transitions.iter().any(|&(o, _)| name(o) == name(q)) {
                let n = name(q)
                    .map(|n| format!("{{{}}}{}", n.0, n.1))
                    .unwrap_or_default();
                bail!("{type_name}: content model is not deterministic on {n}");
            }
            transitions.push((q, q + 1));
        }
        let raw: Vec<usize> = next
            .iter()
            .copied()
            .filter(|&q| decl_of(q).is_some())
            .collect();
        if raw.len() != transitions.len() {
            bail!("{type_name}: content model is not deterministic");
        }
        let (unexpected, missing) = match item {
            Some(i) if b.counted => {
                // Leave every loop this iteration may end, outwards.
                let mut at = i;
                let mut innermost = None;
                while let Some(l) = b.loop_ending_at(at) {
                    innermost.get_or_insert(l.marker);
                    at = l.marker;
                }
                let unexpected = ordered(&b.follow[at]);
                let missing = match innermost {
                    Some(marker) => {
                        let beyond = &b.follow[marker];
                        ordered(
                            &next
                                .iter()
                                .copied()
                                .filter(|q| !beyond.contains(q))
                                .collect(),
                        )
                    }
                    None => ordered(next),
                };
                (unexpected, missing)
            }
            _ => (ordered(next), ordered(next)),
        };
        let decls = |v: Vec<usize>| v.into_iter().filter_map(decl_of).collect::<Vec<_>>();
        states.push(State {
            accepting,
            transitions: transitions
                .into_iter()
                .filter_map(|(q, t)| decl_of(q).map(|d| (d, t)))
                .collect(),
            unexpected: decls(unexpected),
            missing: decls(missing),
        });
    }
    Ok(Automaton { states })
}
