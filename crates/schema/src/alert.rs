//! An alert raised by a detector: stored, listed, searched, sent to sinks.

/// How much an alert matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 3] = [Severity::Low, Severity::Medium, Severity::High];

    /// `low`, `medium` or `high`.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// One alert.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRecord {
    /// Packet time of the session that crossed the threshold (ns since the epoch).
    pub time_ns: i64,
    pub node: String,
    /// Which detector: `vertical-scan`, `horizontal-scan`, …
    pub detector: String,
    pub severity: Severity,
    /// The address the alert is about.
    pub source: String,
    /// What it reached (hosts, or `host:port` …), first few.
    pub targets: Vec<String>,
    /// One line with the numbers.
    pub message: String,
    /// A search expression that shows the evidence sessions.
    pub expression: String,
    /// The evidence's time span (ns), to search with.
    pub first_ns: i64,
    pub last_ns: i64,
}

impl AlertRecord {
    /// The alert as JSON, as listed by `tyto alerts`, the API and the sinks.
    pub fn to_json(&self) -> serde_json::Value {
        use crate::time::format_rfc3339;
        serde_json::json!({
            "time": format_rfc3339(self.time_ns),
            "node": self.node,
            "detector": self.detector,
            "severity": self.severity.as_str(),
            "source": self.source,
            "targets": self.targets,
            "message": self.message,
            "expression": self.expression,
            "first": format_rfc3339(self.first_ns),
            "last": format_rfc3339(self.last_ns),
        })
    }
}
