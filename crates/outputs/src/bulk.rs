//! The Elasticsearch/OpenSearch `_bulk` API. Every record is a `create` with an id
//! fixed by the record (the session's id, with the transaction's number), so a batch
//! sent again after a lost answer cannot index anything twice: what is already there
//! comes back as 409 and counts as delivered. Whole requests answered 429 or 5xx,
//! or not answered, are sent again; within an answer, items refused with 429 or 5xx
//! are sent again, other refusals are counted and logged. The index template goes in
//! before the first batch (`_index_template`, or `_template` on older servers).

use std::time::Duration;

use base64::Engine;
use serde_json::Value;

use crate::documents::index_template;
use crate::{day, Attempt, Deliver, OutputConfig, Shared};

/// Bytes of an answer read at most (a bulk answer lists every item).
const MAX_ANSWER_BYTES: u64 = 64 << 20;

pub struct Bulk {
    url: String,
    index: String,
    auth: Option<String>,
    agent: ureq::Agent,
    template_installed: bool,
}

impl Bulk {
    pub fn new(c: &OutputConfig) -> Bulk {
        let timeout = Duration::from_millis(u64::from(c.timeout_ms));
        let agent =
            ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().new_agent();
        let auth = (!c.user.is_empty()).then(|| {
            let pair = format!("{}:{}", c.user, c.password);
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
        });
        Bulk {
            url: c.target.trim_end_matches('/').to_string(),
            index: c.index.clone(),
            auth,
            agent,
            template_installed: false,
        }
    }

    /// PUT with JSON; the status and the body's first bytes.
    fn put(&self, path: &str, body: &Value) -> Result<(u16, String), String> {
        let mut req = self.agent.put(format!("{}{path}", self.url)).header("Content-Type", "application/json");
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send(body.to_string()).map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
        Ok((status, text))
    }

    fn install_template(&mut self) -> Result<(), String> {
        let pattern = format!("{}-*", self.index);
        let template = index_template(&pattern);
        let (status, text) = self.put(&format!("/_index_template/{}", self.index), &template)?;
        if (200..300).contains(&status) {
            self.template_installed = true;
            return Ok(());
        }
        // Before composable templates (Elasticsearch < 7.8): the legacy API.
        if status == 404 || status == 405 || (status == 400 && text.contains("index_template")) {
            let legacy = serde_json::json!({
                "index_patterns": [pattern],
                "order": 1,
                "mappings": template["template"]["mappings"],
            });
            let (status, text) = self.put(&format!("/_template/{}", self.index), &legacy)?;
            if (200..300).contains(&status) {
                self.template_installed = true;
                return Ok(());
            }
            return Err(format!("index template refused: HTTP {status}: {}", first_line(&text)));
        }
        Err(format!("index template refused: HTTP {status}: {}", first_line(&text)))
    }

    fn body(&self, batch: &[Shared]) -> String {
        let mut out = String::with_capacity(batch.len() * 512);
        for d in batch {
            let action = serde_json::json!({ "create": { "_index": format!("{}-{}", self.index, day(d.time_ns)), "_id": d.id } });
            out.push_str(&action.to_string());
            out.push('\n');
            out.push_str(&d.body.to_string());
            out.push('\n');
        }
        out
    }
}

fn first_line(s: &str) -> &str {
    let line = s.lines().next().unwrap_or("");
    &line[..line.len().min(300)]
}

/// Reads a `_bulk` answer: which items to send again, how many were refused and why.
pub fn read_answer(n: usize, answer: &Value) -> Attempt {
    let mut a = Attempt::default();
    if answer["errors"] == Value::Bool(false) {
        return a;
    }
    let Some(items) = answer["items"].as_array().filter(|items| items.len() == n) else {
        return Attempt::all_again(n, "the answer does not list every item".into());
    };
    for (i, item) in items.iter().enumerate() {
        // Each item is `{"create": {"status": …, "error": …}}`.
        let result = item.as_object().and_then(|o| o.values().next()).cloned().unwrap_or(Value::Null);
        let status = result["status"].as_u64().unwrap_or(0);
        match status {
            200..=299 | 409 => {}
            429 | 500..=599 | 0 => a.retry.push(i),
            _ => {
                a.rejected += 1;
                if a.refusal.is_none() {
                    let e = &result["error"];
                    a.refusal = Some(format!(
                        "HTTP {status} {}: {}",
                        e["type"].as_str().unwrap_or("?"),
                        e["reason"].as_str().unwrap_or("")
                    ));
                }
            }
        }
    }
    if !a.retry.is_empty() {
        a.error = Some(format!("{} item(s) refused for now (429 or 5xx)", a.retry.len()));
    }
    a
}

impl Deliver for Bulk {
    fn deliver(&mut self, batch: &[Shared]) -> Attempt {
        if !self.template_installed {
            if let Err(e) = self.install_template() {
                return Attempt::all_again(batch.len(), e);
            }
        }
        let mut req = self.agent.post(format!("{}/_bulk", self.url)).header("Content-Type", "application/x-ndjson");
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let mut resp = match req.send(self.body(batch)) {
            Ok(r) => r,
            Err(e) => return Attempt::all_again(batch.len(), e.to_string()),
        };
        let status = resp.status().as_u16();
        let text = match resp.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_string() {
            Ok(t) => t,
            Err(e) => return Attempt::all_again(batch.len(), format!("reading the answer: {e}")),
        };
        match status {
            200..=299 => match serde_json::from_str::<Value>(&text) {
                Ok(answer) => read_answer(batch.len(), &answer),
                Err(e) => Attempt::all_again(batch.len(), format!("the answer is not JSON: {e}")),
            },
            // 429 and 5xx, but also a refused request (authentication, a proxy's
            // error page): nothing was indexed, and the cause can be fixed meanwhile.
            _ => Attempt::all_again(batch.len(), format!("HTTP {status}: {}", first_line(&text))),
        }
    }
}
