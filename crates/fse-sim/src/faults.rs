//! Fault injection: what CART (or the network) does to a call instead of,
//! or after, delivering it to the Gateway.
//!
//! A plan is a list of rules, each for some operations, firing with a
//! probability or on given call numbers, seeded so that a run repeats:
//!
//! ```toml
//! seed = 42
//!
//! [[fault]]
//! operations = ["validate-and-create", "create"]   # omitted: every operation
//! kind = "503"                  # 502 | 503 | 504 | 429 | reset | delay
//!                               # | accepted-timeout | accepted-no-answer
//! probability = 0.2             # omitted: always (or on `calls` only)
//! retry_after = 1               # seconds, for 503 and 429
//!
//! [[fault]]
//! kind = "delay"
//! delay_ms = 300
//! calls = [1, 2]                # the first two calls of each operation
//! ```
//!
//! Or, on the command line, `OPS:KIND[:WHEN]` with `OPS` = `*` or names
//! joined by `,`, `KIND` as above (`delay=MS` for a delay) and `WHEN` a
//! probability (`0.2`) or call numbers (`#1,3`).
//!
//! `accepted-timeout` lets the Gateway do the work (a create stores the
//! document) and answers 504 `EndpointReadTimeout`; `accepted-no-answer`
//! does the work and closes the connection without an answer: the two
//! uncertain outcomes a client must reconcile rather than retry.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::operation::Operation;
use crate::problem::FrontProblem;

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// 502 `InvalidResponse`, the Gateway not reached.
    BadGateway,
    /// 503 `APIUnavailable` with `Retry-After`, the Gateway not reached.
    Unavailable,
    /// 504 `EndpointReadTimeout`, the Gateway not reached.
    Timeout,
    /// 429 `TooManyRequests` with `Retry-After`.
    TooManyRequests,
    /// The connection closed without an answer, the Gateway not reached.
    Reset,
    /// Only the delay.
    Delay,
    /// The Gateway does the work; the caller gets 504.
    AcceptedThenTimeout,
    /// The Gateway does the work; the connection closes without an answer.
    AcceptedThenNoAnswer,
}

impl FaultKind {
    fn parse(s: &str) -> Option<FaultKind> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "502" | "bad-gateway" => FaultKind::BadGateway,
            "503" | "unavailable" => FaultKind::Unavailable,
            "504" | "timeout" => FaultKind::Timeout,
            "429" | "too-many-requests" => FaultKind::TooManyRequests,
            "reset" => FaultKind::Reset,
            "delay" => FaultKind::Delay,
            "accepted-timeout" => FaultKind::AcceptedThenTimeout,
            "accepted-no-answer" => FaultKind::AcceptedThenNoAnswer,
            _ => return None,
        })
    }

    /// The name used in plans and in `/_sim/calls`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::BadGateway => "502",
            FaultKind::Unavailable => "503",
            FaultKind::Timeout => "504",
            FaultKind::TooManyRequests => "429",
            FaultKind::Reset => "reset",
            FaultKind::Delay => "delay",
            FaultKind::AcceptedThenTimeout => "accepted-timeout",
            FaultKind::AcceptedThenNoAnswer => "accepted-no-answer",
        }
    }
}

/// When a rule fires.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    /// With this probability, drawn from the seeded generator.
    Probability(f64),
    /// On these call numbers of the operation (1-based).
    Calls(Vec<u64>),
}

/// One rule of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// The operations it applies to; empty means all.
    pub operations: Vec<Operation>,
    /// What it does.
    pub kind: FaultKind,
    /// When it fires.
    pub when: When,
    /// `Retry-After` seconds for 503 and 429.
    pub retry_after: u32,
    /// A delay before anything else (the only effect of `delay`).
    pub delay: Duration,
}

/// A fault plan: rules, and the seed of their random draws.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    /// The seed.
    pub seed: u64,
    /// The rules, in order: the first non-delay rule that fires decides.
    pub rules: Vec<FaultRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    fault: Vec<RuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    operations: Vec<String>,
    kind: String,
    probability: Option<f64>,
    calls: Option<Vec<u64>>,
    retry_after: Option<u32>,
    delay_ms: Option<u64>,
}

impl FaultPlan {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses a TOML plan.
    ///
    /// # Errors
    /// When the TOML is invalid or names an unknown operation or kind.
    pub fn from_toml(text: &str) -> Result<Self> {
        let file: PlanFile = toml::from_str(text).map_err(|e| Error::FaultPlan(e.to_string()))?;
        let mut rules = Vec::new();
        for (i, r) in file.fault.into_iter().enumerate() {
            let at = |m: String| Error::FaultPlan(format!("fault #{}: {m}", i + 1));
            let kind = FaultKind::parse(&r.kind)
                .ok_or_else(|| at(format!("unknown kind {:?}", r.kind)))?;
            let operations = parse_operations(&r.operations).map_err(at)?;
            let when = match (r.probability, r.calls) {
                (Some(_), Some(_)) => {
                    return Err(at("give probability or calls, not both".to_owned()));
                }
                (Some(p), None) => When::Probability(check_probability(p).map_err(at)?),
                (None, Some(calls)) => When::Calls(calls),
                (None, None) => When::Probability(1.0),
            };
            rules.push(FaultRule {
                operations,
                kind,
                when,
                retry_after: r.retry_after.unwrap_or(1),
                delay: Duration::from_millis(r.delay_ms.unwrap_or(0)),
            });
        }
        Ok(FaultPlan {
            seed: file.seed,
            rules,
        })
    }

    /// Reads a TOML plan from a file.
    ///
    /// # Errors
    /// When the file cannot be read or the plan is invalid.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
        Self::from_toml(&text)
    }

    /// Adds a rule given as `OPS:KIND[:WHEN]` (see the module docs).
    ///
    /// # Errors
    /// When the text does not parse.
    pub fn add_flag(&mut self, spec: &str) -> Result<()> {
        let err = |m: &str| Error::FaultPlan(format!("--fault {spec:?}: {m}"));
        let mut parts = spec.splitn(3, ':');
        let ops = parts.next().unwrap_or_default();
        let kind_text = parts
            .next()
            .ok_or_else(|| err("expected OPS:KIND[:WHEN]"))?;
        let (kind, delay) = match kind_text.split_once('=') {
            Some(("delay", ms)) => {
                let ms: u64 = ms.parse().map_err(|_| err("delay=MS needs milliseconds"))?;
                (FaultKind::Delay, Duration::from_millis(ms))
            }
            _ => (
                FaultKind::parse(kind_text).ok_or_else(|| err("unknown kind"))?,
                Duration::ZERO,
            ),
        };
        let operations = if ops.trim() == "*" {
            Vec::new()
        } else {
            let names: Vec<String> = ops.split(',').map(str::to_owned).collect();
            parse_operations(&names).map_err(|m| err(&m))?
        };
        let when = match parts.next() {
            None => When::Probability(1.0),
            Some(w) if w.starts_with('#') => When::Calls(
                w[1..]
                    .split(',')
                    .map(|n| n.trim().parse::<u64>())
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| err("#N,M needs call numbers"))?,
            ),
            Some(p) => When::Probability(
                p.parse::<f64>()
                    .map_err(|_| err("WHEN must be a probability or #calls"))
                    .and_then(|p| check_probability(p).map_err(|m| err(&m)))?,
            ),
        };
        self.rules.push(FaultRule {
            operations,
            kind,
            when,
            retry_after: 1,
            delay,
        });
        Ok(())
    }
}

fn parse_operations(names: &[String]) -> std::result::Result<Vec<Operation>, String> {
    names
        .iter()
        .filter(|n| n.trim() != "*")
        .map(|n| n.parse::<Operation>())
        .collect()
}

fn check_probability(p: f64) -> std::result::Result<f64, String> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("probability {p} is not between 0 and 1"))
    }
}

/// What to do with one call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    /// Wait this long first.
    pub delay: Duration,
    /// Then this, if anything.
    pub fault: Option<(FaultKind, u32)>,
}

impl Decision {
    /// The front's answer for a fault that keeps the call from the Gateway.
    pub fn front_problem(&self) -> Option<FrontProblem> {
        match self.fault? {
            (FaultKind::BadGateway, _) => Some(FrontProblem::bad_gateway()),
            (FaultKind::Unavailable, s) => Some(FrontProblem::unavailable(s)),
            (FaultKind::Timeout, _) => Some(FrontProblem::timeout()),
            (FaultKind::TooManyRequests, s) => Some(FrontProblem::too_many(s)),
            _ => None,
        }
    }
}

/// The plan in action: the seeded generator and the call counters.
#[derive(Debug)]
pub struct FaultInjector {
    plan: FaultPlan,
    inner: Mutex<InjectorState>,
}

#[derive(Debug)]
struct InjectorState {
    rng: SplitMix64,
    counts: HashMap<Operation, u64>,
}

impl FaultInjector {
    /// An injector for `plan`.
    pub fn new(plan: FaultPlan) -> Self {
        let rng = SplitMix64(plan.seed);
        FaultInjector {
            plan,
            inner: Mutex::new(InjectorState {
                rng,
                counts: HashMap::new(),
            }),
        }
    }

    /// The plan.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Decides the fate of the next call of `op`. Every probabilistic rule
    /// that applies draws a number, so one rule's outcome does not shift
    /// the draws of the others.
    pub fn decide(&self, op: Operation) -> Decision {
        let mut state = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = {
            let c = state.counts.entry(op).or_insert(0);
            *c += 1;
            *c
        };
        let mut decision = Decision::default();
        for rule in &self.plan.rules {
            if !rule.operations.is_empty() && !rule.operations.contains(&op) {
                continue;
            }
            let fires = match &rule.when {
                When::Probability(p) => state.rng.next_f64() < *p,
                When::Calls(calls) => calls.contains(&count),
            };
            if !fires {
                continue;
            }
            decision.delay += rule.delay;
            if rule.kind != FaultKind::Delay && decision.fault.is_none() {
                decision.fault = Some((rule.kind, rule.retry_after));
            }
        }
        decision
    }
}

/// A small, well-known generator: enough for repeatable fault draws.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        // 53 random bits in [0, 1).
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_plan_parses_every_field() {
        let plan = FaultPlan::from_toml(
            r#"
            seed = 7
            [[fault]]
            operations = ["validate-and-create"]
            kind = "503"
            probability = 0.2
            retry_after = 3
            [[fault]]
            kind = "delay"
            delay_ms = 250
            calls = [1, 2]
            "#,
        )
        .expect("plan");
        assert_eq!(plan.seed, 7);
        assert_eq!(plan.rules.len(), 2);
        assert_eq!(plan.rules[0].operations, vec![Operation::ValidateAndCreate]);
        assert_eq!(plan.rules[0].retry_after, 3);
        assert_eq!(plan.rules[1].when, When::Calls(vec![1, 2]));
        assert_eq!(plan.rules[1].delay, Duration::from_millis(250));
    }

    #[test]
    fn bad_plans_say_what_is_wrong() {
        for (text, needle) in [
            ("[[fault]]\nkind = \"boom\"", "unknown kind"),
            (
                "[[fault]]\nkind = \"503\"\noperations = [\"publish\"]",
                "unknown operation",
            ),
            (
                "[[fault]]\nkind = \"503\"\nprobability = 2.0",
                "between 0 and 1",
            ),
            (
                "[[fault]]\nkind = \"503\"\nprobability = 0.5\ncalls = [1]",
                "not both",
            ),
            ("[[fault]]\nkind = \"503\"\nextra = 1", "unknown field"),
        ] {
            let err = FaultPlan::from_toml(text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn flags_parse() {
        let mut plan = FaultPlan::none();
        plan.add_flag("create,validate-and-create:503:0.2")
            .expect("503");
        plan.add_flag("*:delay=100").expect("delay");
        plan.add_flag("delete:reset:#1,3").expect("reset");
        assert_eq!(plan.rules[0].operations.len(), 2);
        assert_eq!(plan.rules[1].kind, FaultKind::Delay);
        assert_eq!(plan.rules[1].delay, Duration::from_millis(100));
        assert_eq!(plan.rules[2].when, When::Calls(vec![1, 3]));
        assert!(plan.add_flag("create").is_err());
        assert!(plan.add_flag("create:503:lots").is_err());
    }

    #[test]
    fn decisions_repeat_with_the_seed_and_follow_the_rate() {
        let mut plan = FaultPlan {
            seed: 42,
            rules: Vec::new(),
        };
        plan.add_flag("create:503:0.2").expect("flag");
        let run = || {
            let inj = FaultInjector::new(plan.clone());
            (0..2000)
                .map(|_| inj.decide(Operation::Create).fault.is_some())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run(), "same seed, same faults");
        let rate = a.iter().filter(|f| **f).count() as f64 / a.len() as f64;
        assert!((0.17..0.23).contains(&rate), "rate {rate}");
        let inj = FaultInjector::new(plan);
        assert!(
            inj.decide(Operation::Delete).fault.is_none(),
            "other operations untouched"
        );
    }

    #[test]
    fn fixed_calls_fire_exactly_there() {
        let mut plan = FaultPlan::none();
        plan.add_flag("status:504:#2").expect("flag");
        let inj = FaultInjector::new(plan);
        let fired: Vec<bool> = (0..4)
            .map(|_| inj.decide(Operation::Status).fault.is_some())
            .collect();
        assert_eq!(fired, vec![false, true, false, false]);
    }
}
