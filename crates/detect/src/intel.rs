//! `intel`: a session that matched a threat-intelligence indicator (its `intel`
//! field, filled as the session was written). One alert per indicator and source
//! host per `realert_s`: a client that calls a listed server all day is one alert
//! every ten minutes, not one per connection.

use tyto_schema::{SessionRecord, Severity};

use crate::{time_clause, AlertText, Context, SessionEnds};

#[derive(Default)]
pub(crate) struct IntelHits;

impl IntelHits {
    pub fn session(&mut self, rec: &SessionRecord, ctx: &mut Context) {
        let matched = rec.extra.texts("intel");
        if matched.is_empty() {
            return;
        }
        let SessionEnds { client, server, protocols, client_clause } = SessionEnds::of(rec);
        let fresh: Vec<&String> =
            matched.iter().filter(|m| ctx.fresh(("intel", m.as_str(), &client), rec.start_ns)).collect();
        if fresh.is_empty() {
            return;
        }
        let list = fresh.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
        let values = fresh.iter().map(|m| tyto_query::exact_value(m)).collect::<Vec<_>>().join(", ");
        AlertText {
            detector: "intel".into(),
            severity: Severity::High,
            targets: fresh.iter().map(|m| m.to_string()).collect(),
            message: format!("{client} → {server}{protocols} matched {list}, session {}", rec.id),
            source: client,
            expression: format!("intel == [{values}]{client_clause} && {}", time_clause(rec.start_ns, rec.stop_ns)),
            first_ns: rec.start_ns,
            last_ns: rec.stop_ns,
        }
        .raise(rec, ctx.out);
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::talk;
    use crate::{DetectConfig, Detectors};

    #[test]
    fn a_listed_indicator_alerts_once_per_source_in_the_realert_period() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        let mut hit = talk([10, 0, 0, 4], [192, 0, 2, 66], 443, 100);
        hit.extra.add_text("intel", "feodo:192.0.2.66").unwrap();
        hit.extra.add_text("intel", "urlhaus:bad\"quote.example").unwrap();
        let alerts = d.session(&hit);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        let a = &alerts[0];
        assert_eq!((a.detector.as_str(), a.source.as_str()), ("intel", "10.0.0.4"));
        assert_eq!(a.targets, ["feodo:192.0.2.66", "urlhaus:bad\"quote.example"]);
        assert!(a.message.contains("10.0.0.4 → 192.0.2.66:443 matched feodo:192.0.2.66"), "{}", a.message);
        let q = tyto_query::compile(&a.expression, 0).unwrap();
        assert!(tyto_query::Matcher::new(&q).unwrap().matches(&hit), "{}", a.expression);
        // The same again within realert_s: nothing; another client: its own alert.
        hit.start_ns += 60_000_000_000;
        assert!(d.session(&hit).is_empty());
        hit.src_ip = talk([10, 0, 0, 5], [192, 0, 2, 66], 443, 100).src_ip;
        assert_eq!(d.session(&hit).len(), 1);
        assert!(d.session(&talk([10, 0, 0, 4], [192, 0, 2, 67], 443, 200)).is_empty());
    }
}
