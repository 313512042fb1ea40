//! What a session's own packets cannot say, added as it is written:
//!
//! - Country and autonomous system of its addresses, from MaxMind-format (`.mmdb`)
//!   databases: GeoLite2/GeoIP2 Country or City for `country.*`, GeoLite2 ASN (or
//!   any database with `autonomous_system_number`/`_organization`) for `asn.*`.
//!   Without a database the fields stay empty. Countries are stored as ISO 3166
//!   alpha-3 (`USA`, `FRA`), as Arkime stores them; the databases carry alpha-2. A
//!   City database also gives `region.*` (the first subdivision's ISO code, `CA`)
//!   and `city.*` (the English name).
//! - [`rir`]: the Regional Internet Registry of each end's address block.
//! - [`apps`]: the application a session belongs to, and its category.
//! - [`community_id`]: the Community ID flow hash other tools give the same flow.
//! - [`intel`]: the threat-intelligence indicators it matches.

pub mod apps;
pub mod community_id;
pub mod intel;
pub mod oui;
pub mod rir;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use maxminddb::{PathElement, Reader};
use tyto_schema::SessionRecord;

#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("{path}: not a readable MaxMind database: {source}")]
    Open { path: PathBuf, source: maxminddb::MaxMindDbError },
    #[error("{path}: a {kind} database was expected, but it holds {found:?} records")]
    WrongKind { path: PathBuf, kind: &'static str, found: String },
}

/// Where an address is ([`GeoIp::place`]).
#[derive(Default, Debug, PartialEq)]
pub struct Place<'a> {
    /// ISO 3166 alpha-3.
    pub country: Option<&'static str>,
    /// The first (largest) subdivision's ISO 3166-2 code, without the country's.
    pub region: Option<&'a str>,
    /// The city's English name.
    pub city: Option<&'a str>,
}

/// The databases, read into memory once and shared by every worker.
pub struct GeoIp {
    country: Option<Reader<Vec<u8>>>,
    asn: Option<Reader<Vec<u8>>>,
}

fn open(path: &Path, kind: &'static str, wants: &[&str]) -> Result<Reader<Vec<u8>>, EnrichError> {
    let reader =
        Reader::open_readfile(path).map_err(|source| EnrichError::Open { path: path.to_path_buf(), source })?;
    // A City database is also a Country one; an ASN database answers neither.
    let found = reader.metadata().database_type.clone();
    let lower = found.to_ascii_lowercase();
    if !wants.iter().any(|w| lower.contains(w)) {
        return Err(EnrichError::WrongKind { path: path.to_path_buf(), kind, found });
    }
    Ok(reader)
}

impl GeoIp {
    /// Opens the databases given; `None` for both is allowed and enriches nothing.
    pub fn open(country: Option<&Path>, asn: Option<&Path>) -> Result<GeoIp, EnrichError> {
        Ok(GeoIp {
            country: country.map(|p| open(p, "country", &["country", "city", "enterprise"])).transpose()?,
            asn: asn.map(|p| open(p, "ASN", &["asn", "isp", "enterprise"])).transpose()?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.country.is_none() && self.asn.is_none()
    }

    /// The alpha-3 code of the country an address is in, if the database knows it.
    pub fn country(&self, ip: IpAddr) -> Option<&'static str> {
        self.place(ip).country
    }

    /// Where an address is, as far as the database knows: its country, and from a
    /// City database its region and city.
    pub fn place(&self, ip: IpAddr) -> Place<'_> {
        let Some(r) = self.country.as_ref().and_then(|db| db.lookup(ip).ok()) else { return Place::default() };
        // Only the values wanted are decoded, not the whole record with its names in
        // many languages.
        let text = |path: &[PathElement<'_>]| r.decode_path::<&str>(path).ok().flatten();
        let code = |key| text(&[PathElement::Key(key), PathElement::Key("iso_code")]);
        let alpha2 = code("country").or_else(|| code("registered_country"));
        Place {
            country: alpha2.and_then(|c| isocountry::CountryCode::for_alpha2_caseless(c).ok()).map(|c| c.alpha3()),
            region: text(&[PathElement::Key("subdivisions"), PathElement::Index(0), PathElement::Key("iso_code")]),
            city: text(&[PathElement::Key("city"), PathElement::Key("names"), PathElement::Key("en")]),
        }
    }

    /// `AS<number> <organisation>` for an address, if the database knows it.
    pub fn asn(&self, ip: IpAddr) -> Option<String> {
        let r = self.asn.as_ref()?.lookup(ip).ok()?;
        let number: Option<u32> = r.decode_path(&[PathElement::Key("autonomous_system_number")]).ok().flatten();
        let org: Option<&str> = r.decode_path(&[PathElement::Key("autonomous_system_organization")]).ok().flatten();
        match (number, org) {
            (Some(n), Some(o)) => Some(format!("AS{n} {o}")),
            (Some(n), None) => Some(format!("AS{n}")),
            (None, Some(o)) => Some(o.to_string()),
            (None, None) => None,
        }
    }
}

impl tyto_flow::Enrich for GeoIp {
    fn enrich(&self, rec: &mut SessionRecord) {
        let ends = [
            (rec.src_ip, ["country.src", "region.src", "city.src"], "asn.src"),
            (rec.dst_ip, ["country.dst", "region.dst", "city.dst"], "asn.dst"),
        ];
        for (ip, [country, region, city], asn) in ends {
            let Some(ip) = ip.map(|a| a.to_ip()) else { continue };
            let place = self.place(ip);
            for (field, value) in [(country, place.country), (region, place.region), (city, place.city)] {
                if let Some(v) = value {
                    let _ = rec.extra.add_text(field, v);
                }
            }
            if let Some(a) = self.asn(ip) {
                let _ = rec.extra.add_text(asn, &a);
            }
        }
    }
}

/// Several enrichments, applied in order.
pub struct Enrichers(pub Vec<Arc<dyn tyto_flow::Enrich>>);

impl Enrichers {
    /// One enrichment for the pipeline, or `None` when there is nothing to add.
    pub fn into_one(self) -> Option<Arc<dyn tyto_flow::Enrich>> {
        match self.0.len() {
            0 => None,
            1 => self.0.into_iter().next(),
            _ => Some(Arc::new(self)),
        }
    }
}

impl tyto_flow::Enrich for Enrichers {
    fn enrich(&self, rec: &mut SessionRecord) {
        for e in &self.0 {
            e.enrich(rec);
        }
    }
}

/// Small databases for tests and the demo, built with `mmdb-writer`.
#[cfg(test)]
mod tests {
    use super::*;
    use mmdb_writer::{Value, Writer};
    use tyto_flow::Enrich;

    fn write(dir: &Path, name: &str, kind: &str, rows: &[(&str, Value)]) -> PathBuf {
        let mut w = Writer::builder(kind).build();
        for (net, v) in rows {
            w.insert_value(net.parse::<mmdb_writer::ipnet::IpNet>().unwrap(), v.clone()).unwrap();
        }
        let p = dir.join(name);
        std::fs::write(&p, w.to_bytes().unwrap()).unwrap();
        p
    }

    fn country(code: &str) -> Value {
        Value::map([("country", Value::map([("iso_code", Value::from(code))]))])
    }

    #[test]
    fn fills_country_and_asn_of_both_ends() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let c = write(
            &dir,
            "c.mmdb",
            "GeoLite2-Country",
            &[("192.0.2.0/24", country("FR")), ("2001:db8::/32", country("jp"))],
        );
        let a = write(
            &dir,
            "a.mmdb",
            "GeoLite2-ASN",
            &[(
                "192.0.2.0/25",
                Value::map([
                    ("autonomous_system_number", Value::from(64_512u32)),
                    ("autonomous_system_organization", Value::from("Example Net")),
                ]),
            )],
        );
        let g = GeoIp::open(Some(&c), Some(&a)).unwrap();
        assert_eq!(g.country("192.0.2.9".parse().unwrap()), Some("FRA"));
        assert_eq!(g.country("2001:db8::1".parse().unwrap()), Some("JPN"));
        assert_eq!(g.country("10.0.0.1".parse().unwrap()), None);
        assert_eq!(g.asn("192.0.2.9".parse().unwrap()).as_deref(), Some("AS64512 Example Net"));
        assert_eq!(g.asn("192.0.2.200".parse().unwrap()), None);

        let mut rec = SessionRecord {
            src_ip: Some("10.0.0.1".parse::<IpAddr>().unwrap().into()),
            dst_ip: Some("192.0.2.9".parse::<IpAddr>().unwrap().into()),
            ..SessionRecord::default()
        };
        g.enrich(&mut rec);
        let json = tyto_schema::record_to_json(&rec);
        assert_eq!(json["country.dst"], "FRA");
        assert_eq!(json["asn.dst"], "AS64512 Example Net");
        assert!(json.get("country.src").is_none_or(|v| v.is_null()), "{json}");
    }

    #[test]
    fn a_city_database_gives_region_and_city_too() {
        let tmp = tempfile::tempdir().unwrap();
        let names = |en: &str| Value::map([("en", Value::from(en)), ("de", Value::from("x"))]);
        let quebec = Value::map([
            ("city", Value::map([("names", names("Montréal"))])),
            ("country", Value::map([("iso_code", Value::from("CA"))])),
            (
                "subdivisions",
                Value::Array(vec![Value::map([("iso_code", Value::from("QC")), ("names", names("Quebec"))])]),
            ),
        ]);
        let c = write(
            tmp.path(),
            "city.mmdb",
            "GeoLite2-City",
            &[("198.51.100.0/24", quebec), ("192.0.2.0/24", country("FR"))],
        );
        let g = GeoIp::open(Some(&c), None).unwrap();
        let place = g.place("198.51.100.7".parse().unwrap());
        assert_eq!(place, Place { country: Some("CAN"), region: Some("QC"), city: Some("Montréal") });
        assert_eq!(g.place("192.0.2.1".parse().unwrap()), Place { country: Some("FRA"), region: None, city: None });
        let mut rec = SessionRecord {
            src_ip: Some("198.51.100.7".parse::<IpAddr>().unwrap().into()),
            dst_ip: Some("192.0.2.9".parse::<IpAddr>().unwrap().into()),
            ..SessionRecord::default()
        };
        g.enrich(&mut rec);
        let json = tyto_schema::record_to_json(&rec);
        assert_eq!(
            (&json["country.src"], &json["region.src"], &json["city.src"]),
            (&"CAN".into(), &"QC".into(), &"Montréal".into())
        );
        assert!(json.get("city.dst").is_none_or(|v| v.is_null()), "{json}");
    }

    #[test]
    fn refuses_what_is_not_a_database_or_the_wrong_kind() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let junk = dir.join("junk.mmdb");
        std::fs::write(&junk, b"not a database").unwrap();
        let e = GeoIp::open(Some(&junk), None).err().unwrap().to_string();
        assert!(e.contains("junk.mmdb") && e.contains("not a readable MaxMind database"), "{e}");
        let asn = write(&dir, "asn.mmdb", "GeoLite2-ASN", &[("192.0.2.0/24", country("FR"))]);
        let e = GeoIp::open(Some(&asn), None).err().unwrap().to_string();
        assert!(e.contains("country database was expected"), "{e}");
        assert!(GeoIp::open(None, None).unwrap().is_empty());
    }
}
