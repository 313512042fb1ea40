//! Endpoints of calls an application was named on. A call's ICE checks, TURN
//! allocations and media go over several sessions from the same client address and
//! port, and only some of them carry what names the application (a TURN server's
//! realm, an application's own STUN attributes). As nDPI's STUN cache does, the
//! endpoints of a session whose messages named its application are filed here, and
//! a STUN or RTP session that named none takes the application filed for either of
//! its endpoints when its row is written (which is after the naming session's first
//! messages, whichever closes first).
//!
//! One table a pipeline (a [`SharedMap`]), like [`super::expect`]'s, so that workers
//! see each other's sessions and two pipelines never do.

use tyto_packet::Addr;

use super::shared_map::SharedMap;

/// Endpoints kept: a few hundred calls' worth.
const MAX_ENDPOINTS: usize = 4096;

/// The named calls' endpoints (address and port) of one pipeline, with the
/// application named.
pub type CallEndpoints = SharedMap<(Addr, u16), &'static str, MAX_ENDPOINTS>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_endpoint_names_a_later_session_and_the_table_stays_bounded() {
        let client = (Addr::from_v4([192, 168, 12, 169]), 43_068);
        let turn = (Addr::from_v4([35, 158, 183, 167]), 3478);
        let stun = (Addr::from_v4([172, 253, 121, 127]), 19_302);
        let calls = CallEndpoints::default();
        assert_eq!(calls.find([client, stun]), None);
        calls.file([client, turn], "signalvoip");
        assert_eq!(calls.find([client, stun]), Some("signalvoip"), "the client's port");
        assert_eq!(calls.find([(client.0, 43_069), turn]), Some("signalvoip"), "the server's");
        assert_eq!(calls.find([(client.0, 43_069), stun]), None);
        for port in 0..MAX_ENDPOINTS as u16 {
            calls.file([(Addr::from_v4([10, 0, 0, 1]), port), (Addr::from_v4([10, 0, 0, 2]), port)], "zoom");
        }
        assert_eq!(calls.len(), MAX_ENDPOINTS);
        assert_eq!(calls.find([client, stun]), None, "the oldest made room");
    }
}
