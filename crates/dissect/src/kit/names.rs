//! The names DNS answers gave addresses. A session to an address that an earlier
//! answer in the pipeline gave for a name (the name asked, or its CNAMEs') keeps
//! that name beside its row ([`tyto_schema::SessionRecord::resolved`]), so a session
//! without a name of its own — TLS without a server name, QUIC picked up after its
//! Initial, a plain TCP connection — can still be placed, as nDPI's DNS cache places
//! flows. The last answer for an address wins.
//!
//! One table a pipeline (a [`SharedMap`]), like [`super::expect`]'s, so that workers
//! see each other's answers and two pipelines never do.

use std::sync::Arc;

use tyto_packet::Addr;

use super::shared_map::SharedMap;

/// Addresses kept: names of a few thousand lookups (a name is at most 253 bytes).
const MAX_ADDRESSES: usize = 16_384;

/// The names DNS answers gave addresses in one pipeline, the last answer's.
pub type ResolvedNames = SharedMap<Addr, Arc<str>, MAX_ADDRESSES>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_answer_names_an_address_and_the_table_stays_bounded() {
        let a = Addr::from_v4([93, 184, 216, 34]);
        let names = ResolvedNames::default();
        assert_eq!(names.find([a]), None);
        names.file([a], Arc::from("www.example.com"));
        assert_eq!(names.find([a]).as_deref(), Some("www.example.com"));
        names.file([a], Arc::from("cdn.example.net"));
        assert_eq!(names.find([a]).as_deref(), Some("cdn.example.net"));
        for i in 0..MAX_ADDRESSES as u32 {
            names.file([Addr::from_v4((0x0a00_0000 + i).to_be_bytes())], Arc::from("x.example"));
        }
        assert_eq!(names.len(), MAX_ADDRESSES);
        assert_eq!(names.find([a]), None, "the oldest made room");
    }
}
