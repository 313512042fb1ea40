//! A protocol handing its connection to another: STARTTLS and its kin (SMTP's
//! `STARTTLS`, IMAP's tagged `STARTTLS`, POP3's `STLS`, FTP's `AUTH TLS`, LDAP's
//! extended operation, RDP's negotiated TLS, MySQL's and PostgreSQL's SSL requests),
//! an HTTP `CONNECT` tunnel. The client asks, the server accepts or refuses; the
//! bytes after the acceptance belong to the next protocol, which the classifier
//! finds afresh ([`crate::Dissector::handoff`]).

/// One connection's switch: asked for, and where it happened.
#[derive(Debug, Default)]
pub(crate) struct Upgrade {
    asked: bool,
    at: Option<usize>,
}

impl Upgrade {
    /// The client asked to switch.
    pub(crate) fn ask(&mut self) {
        self.asked = true;
    }

    /// Whether a switch was asked for and not refused.
    pub(crate) fn asked(&self) -> bool {
        self.asked
    }

    /// A server line, for a line reader: whether to read on. A refusal leaves the
    /// protocol as it was; an acceptance ends it with this line.
    pub(crate) fn answer(&mut self, accepted: bool, refused: bool) -> bool {
        if self.asked && refused {
            self.asked = false;
        }
        !(self.asked && accepted)
    }

    /// The protocol ended `used` bytes into the bytes just fed: the rest is another's.
    pub(crate) fn switch_at(&mut self, used: usize) {
        self.at = Some(used);
    }

    /// For [`crate::Dissector::handoff`]: where the switch happened, once.
    pub(crate) fn take(&mut self) -> Option<usize> {
        self.at.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_keeps_the_protocol_and_an_acceptance_ends_it_once() {
        let mut u = Upgrade::default();
        assert!(u.answer(true, false), "nothing asked: read on");
        u.ask();
        assert!(u.answer(false, true), "refused");
        assert!(!u.asked());
        assert!(u.answer(true, false), "refused, then a positive line answers nothing");
        u.ask();
        assert!(!u.answer(true, false), "accepted: stop reading");
        u.switch_at(17);
        assert_eq!(u.take(), Some(17));
        assert_eq!(u.take(), None);
    }
}
