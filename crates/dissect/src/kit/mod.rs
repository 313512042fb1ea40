//! What the protocols share: reading bytes ([`bytes`]), cutting a stream into
//! messages ([`messages`] for binary framings, [`lines`] for text ones), recording
//! what is learnt ([`record`]), and the formats several protocols carry (DER,
//! NTLMSSP, SQL text, the [`magic`] of bodies and attachments), the connections
//! they announce ([`expect`]), the calls' endpoints they name ([`calls`]) and the
//! names DNS answers give addresses ([`names`]).

pub(crate) mod bytes;
pub(crate) mod calls;
pub(crate) mod der;
pub(crate) mod expect;
pub(crate) mod idn;
pub(crate) mod lines;
pub(crate) mod magic;
pub(crate) mod messages;
pub(crate) mod names;
pub(crate) mod ntlm;
pub(crate) mod record;
pub(crate) mod sctp;
pub(crate) mod shared_map;
pub(crate) mod sql;
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod upgrade;

pub(crate) use bytes::*;
pub(crate) use record::*;
