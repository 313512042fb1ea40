//! "Did you mean": the known name nearest to an unknown one.

/// Edit distance, bounded in work by the caller keeping names short.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest field name, if one is close enough to be what was meant.
pub fn nearest_name(unknown: &str) -> Option<&'static str> {
    if unknown.len() > 100 {
        return None;
    }
    let lower = unknown.to_lowercase();
    let mut best: Option<(usize, &'static str)> = None;
    for name in tyto_schema::all_names() {
        let d = distance(&lower, &name.to_lowercase());
        if best.is_none_or(|(bd, bn)| d < bd || (d == bd && name < bn)) {
            best = Some((d, name));
        }
    }
    let (d, name) = best?;
    (d <= (unknown.chars().count() / 3).max(2)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_field() {
        assert_eq!(nearest_name("ip.scr"), Some("ip.src"));
        assert_eq!(nearest_name("prtocols"), Some("protocols"));
        assert_eq!(nearest_name("HTTP.User-Agent"), Some("http.user-agent"));
        assert_eq!(nearest_name("http.useragnt"), Some("http.useragent"), "aliases are names too");
        assert_eq!(nearest_name("zzzzzzzzzzzz"), None);
    }
}
