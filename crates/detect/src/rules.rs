//! Policy rules: search expressions (the viewer's language) evaluated on each session
//! row as it is written — SSH or RDP to outside networks, BitTorrent, a scanner's user
//! agent — as Arkime's periodic queries do, but at once. A rule raises `rule:NAME`
//! once per source per `realert_s`.

use serde::{Deserialize, Serialize};
use tyto_query::Matcher;
use tyto_schema::{SessionRecord, Severity};

use crate::{time_clause, AlertText, Context, SessionEnds};

/// One rule of the `[detect]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Letters, digits, `-`, `_` and `.`; the alert's detector is `rule:NAME`.
    pub name: String,
    /// A search expression, e.g. `protocols == ssh && ip.dst != [10.0.0.0/8]`.
    pub expression: String,
    /// low, medium or high.
    #[serde(default = "medium")]
    pub severity: String,
}

fn medium() -> String {
    "medium".into()
}

struct Compiled {
    detector: String,
    expression: String,
    severity: Severity,
    matcher: Matcher,
}

pub(crate) struct Rules {
    rules: Vec<Compiled>,
}

impl Rules {
    pub fn new(rules: &[Rule]) -> Result<Rules, String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let mut out = Vec::new();
        for r in rules {
            let name = &r.name;
            let good_name = !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !good_name {
                return Err(format!("rule '{name}': a name is 1 to 64 letters, digits, '-', '_' or '.'"));
            }
            if out.iter().any(|c: &Compiled| c.detector == format!("rule:{name}")) {
                return Err(format!("rule '{name}' is defined twice"));
            }
            let severity = Severity::parse(&r.severity)
                .ok_or_else(|| format!("rule '{name}': severity is low, medium or high, not '{}'", r.severity))?;
            let filter = tyto_query::compile(&r.expression, now)
                .map_err(|e| format!("rule '{name}': {e}\n{}", e.pointer(&r.expression)))?;
            let matcher = Matcher::new(&filter).map_err(|e| format!("rule '{name}': {e}"))?;
            out.push(Compiled {
                detector: format!("rule:{name}"),
                expression: r.expression.clone(),
                severity,
                matcher,
            });
        }
        Ok(Rules { rules: out })
    }

    pub fn session(&mut self, rec: &SessionRecord, ctx: &mut Context) {
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.matcher.matches(rec) {
                continue;
            }
            let ends = SessionEnds::of(rec);
            if !ctx.fresh(("rule", i, &ends.client), rec.start_ns) {
                continue;
            }
            let SessionEnds { client, server, protocols, client_clause } = ends;
            AlertText {
                detector: rule.detector.clone(),
                severity: rule.severity,
                targets: vec![server.clone()].into_iter().filter(|t| !t.is_empty()).collect(),
                message: format!("{} matched: {client} → {server}{protocols}, session {}", rule.detector, rec.id),
                source: client,
                expression: format!(
                    "({}){client_clause} && {}",
                    rule.expression,
                    time_clause(rec.start_ns, rec.stop_ns)
                ),
                first_ns: rec.start_ns,
                last_ns: rec.stop_ns,
            }
            .raise(rec, ctx.out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::talk;
    use crate::{DetectConfig, Detectors};

    #[test]
    fn a_rule_alerts_once_per_source_with_its_own_expression() {
        let cfg = DetectConfig {
            rules: vec![Rule {
                name: "ssh-out".into(),
                expression: "port.dst == 22 && ip.dst != 10.0.0.0/8".into(),
                severity: "high".into(),
            }],
            ..DetectConfig::default()
        };
        let mut d = Detectors::new(cfg).unwrap();
        let mut alerts = Vec::new();
        for h in 1..=5u8 {
            alerts.extend(d.session(&talk([10, 0, 0, 4], [192, 0, 2, h], 22, 100)));
            alerts.extend(d.session(&talk([10, 0, 0, 5], [10, 9, 9, h], 22, 100)));
        }
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        let a = &alerts[0];
        assert_eq!((a.detector.as_str(), a.severity, a.source.as_str()), ("rule:ssh-out", Severity::High, "10.0.0.4"));
        assert_eq!(a.targets, ["192.0.2.1:22"]);
        assert!(tyto_query::compile(&a.expression, 0).is_ok(), "{}", a.expression);
    }

    #[test]
    fn bad_rules_are_named() {
        let rule = |name: &str, expression: &str, severity: &str| Rule {
            name: name.into(),
            expression: expression.into(),
            severity: severity.into(),
        };
        let err = |r: Rule| Rules::new(&[r]).err().unwrap();
        assert!(err(rule("a b", "port == 1", "low")).contains("a name is"));
        assert!(err(rule("x", "port == 1", "urgent")).contains("severity"));
        let e = err(rule("x", "prot == ssh", "low"));
        assert!(e.contains("rule 'x': column 1: unknown field 'prot'"), "{e}");
        assert!(Rules::new(&[rule("x", "port == 1", "low"), rule("x", "port == 2", "low")]).is_err());
    }
}
