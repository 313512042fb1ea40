//! The parameters of an `Authorization: Digest …` header (RFC 7616's auth-param
//! list). Written here rather than taken from a crate: it is twenty lines, and it
//! must stay std-only so the fuzz target can compile it alone.

use std::collections::HashMap;

/// Parameters read from one header at most.
const MAX_PARAMS: usize = 32;

/// Splits `a="b", c=d` (RFC 7616's auth-param list); values unquoted and unescaped.
pub fn auth_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && out.len() < MAX_PARAMS {
        while i < b.len() && (b[i] == b' ' || b[i] == b',' || b[i] == b'\t') {
            i += 1;
        }
        let k0 = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let key = s[k0..i].trim().to_ascii_lowercase();
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        i += 1;
        let mut val = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
                val.push(ch);
                i += ch.len_utf8();
            }
            i += 1;
        } else {
            let v0 = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            val = s[v0..i].trim().to_string();
        }
        out.insert(key, val);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_params_read_quoted_and_bare_values() {
        let p = auth_params(
            r#"username="al\"ice", realm="Tyto", nonce="1.ab", uri="/api/sessions?x=1,2", qop=auth, nc=00000001"#,
        );
        assert_eq!(p["username"], "al\"ice");
        assert_eq!(p["uri"], "/api/sessions?x=1,2");
        assert_eq!(p["qop"], "auth");
        assert_eq!(p["nc"], "00000001");
        assert!(auth_params("\"unterminated").is_empty());
        let _ = auth_params("a=\"\\");
    }
}
