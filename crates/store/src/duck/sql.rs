//! DuckDB's SQL: its tables, how a filter's leaves read them, and its aggregate shapes.
//!
//! Layout (version 5). `sessions` holds a row key `rk` (BIGINT, given in order by the
//! writer), `side_groups` (a bit per side table part some field of the session
//! belongs to, see [`side_bit`]), every field of the record itself and the
//! enrichment fields (GeoIP, ASN: group `general`) but the few that seldom hold a
//! value ([`RARE_COLUMNS`]). The fields a dissector fills are in side tables, each
//! holding the row key, the session's first and last packet times (`side_start`,
//! `side_stop`, so a time range prunes it alone) and its columns, with a row only
//! for sessions that have one of those fields: the groups of the protocols most
//! sessions carry ([`OWN_TABLE_GROUPS`]: `sessions_dns`, `sessions_http`, …) a table
//! each, every other group's fields one table together ([`SHARED_TABLE`], packed as
//! a list of names and a list of values, see [`PACKED_NAMES`]), and the record's
//! seldom-filled lists one more ([`RARE_TABLE`]).
//!
//! Why: DuckDB pays for every column of every appended row, NULL or not — 232 columns
//! cost 2 s per 250,000 rows where the 38 a typical session fills cost 0.7 s (measured;
//! a STRUCT per group costs the same as flat columns). A side table costs only the
//! sessions of its protocol. But a table also costs space at every checkpoint however
//! few rows it took: 35 tables of which 30 held a few rows each were half the file
//! (see [`SHARED_TABLE`]). A leaf on a side field reads
//! `rk IN (SELECT rk FROM <table> WHERE <time range> AND <leaf>)`, which keeps
//! the two-valued meaning of every leaf (a session without the protocol does not
//! match, and `!=` matches it).
//!
//! | kind    | column               |
//! |---------|----------------------|
//! | ip      | UHUGEINT (v4 mapped) |
//! | integer | BIGINT               |
//! | date    | TIMESTAMP            |
//! | text    | VARCHAR              |
//! | lists   | T[] (NULL if empty)  |

use tyto_schema::{FieldDef, FieldKind, Source, FIELDS};

use crate::sql::Dialect;
use crate::ListQuery;

/// The layout this code reads and writes. Layout 2, which gave every group a table
/// of its own, layout 3, which kept [`RARE_COLUMNS`] in `sessions`, and layout 4,
/// which gave [`SHARED_TABLE`] a column per field, are brought to it when opened
/// ([`migrate_from_layout_2`], [`migrate_from_layout_3`], [`migrate_from_layout_4`]).
pub const DUCKDB_LAYOUT: u32 = 5;
/// Catalogue group whose fields are columns of `sessions` (enrichment of every session).
const MAIN_GROUP: &str = "general";
/// Groups with a side table of their own: the protocols that carry most of the
/// sessions with dissector fields on ordinary networks — on the shared nDPI
/// captures 21,500 of 22,450 side rows (DNS, HTTP, TLS, certificates, QUIC), on
/// Arkime's 242 of 379. Moving a group in or out of this list is a new layout.
pub(crate) const OWN_TABLE_GROUPS: &[&str] = &["dns", "http", "tls", "cert", "quic"];
/// The side table every other group's columns share: a row per session having a
/// field of any of them. It is wide (its rows pay for every column), but few rows
/// go there, and a table costs space at every checkpoint however few rows it took:
/// `tyto ingest` of the benchmark corpus (`tyto bench`'s, 59,565 sessions) writes a
/// file of 16.5–19.7 MB against 32.3–41.4 MB with a table per group, in the same
/// time within the noise.
pub(crate) const SHARED_TABLE: &str = "sessions_more";

/// Columns of `sessions` fields that few sessions hold (tunnels, VLANs, ICMP, user
/// names, DSCP marks), kept in [`RARE_TABLE`]. Why: DuckDB pays for every column of
/// every appended row, an empty one too (measured: 20–45 ns a column a row, NULL
/// or not); on `tyto ingest` of the shared captures each of these is empty in more
/// than 95% of the rows. Lists all, whose none is NULL, so that a session without a
/// row there reads as it did. Moving a column in or out of this list is a new layout.
pub(crate) const RARE_COLUMNS: &[&str] = &[
    "vlan",
    "vlan_dot1q",
    "vlan_dot1ad",
    "vni",
    "tunnels",
    "outer_ip_src",
    "outer_ip_dst",
    "outer_mac_src",
    "outer_mac_dst",
    "outeroui_src",
    "outeroui_dst",
    "icmp_type",
    "icmp_code",
    "dscp_src",
    "dscp_dst",
    "user",
];
/// The side table of [`RARE_COLUMNS`], and the name its bit in `side_groups` is
/// made of (as a group's, see [`group_bit`]).
pub(crate) const RARE_TABLE: &str = "sessions_rare";
const RARE_PART: &str = "rare";

/// The table holding `f`'s column: `None` for `sessions`.
pub(crate) fn side_table(f: &FieldDef) -> Option<String> {
    if RARE_COLUMNS.contains(&f.column) {
        return Some(RARE_TABLE.to_string());
    }
    match f.source {
        Source::Record(_) => None,
        Source::Extra if f.group == MAIN_GROUP => None,
        Source::Extra if OWN_TABLE_GROUPS.contains(&f.group) => Some(format!("sessions_{}", f.group)),
        Source::Extra => Some(SHARED_TABLE.to_string()),
    }
}

/// The side tables, each with its fields, in catalogue order.
pub(crate) fn side_tables() -> Vec<(String, Vec<&'static FieldDef>)> {
    let mut out: Vec<(String, Vec<&'static FieldDef>)> = Vec::new();
    for f in FIELDS {
        if let Some(t) = side_table(f) {
            match out.iter_mut().find(|(name, _)| *name == t) {
                Some((_, v)) => v.push(f),
                None => out.push((t, vec![f])),
            }
        }
    }
    out
}

/// The bit of a catalogue group in a session's `side_groups`: which groups the
/// session has fields of, so a page reads a side table only when some row has a
/// shown field's group. A hash of `sessions_<group>` rather than the group's place
/// in the catalogue, so new groups never move old ones (and layout 2's bits, one
/// per table of that name, mean the same); two groups sharing a bit only cost a
/// read that finds nothing.
pub(crate) fn group_bit(group: &str) -> u64 {
    let h = "sessions_"
        .bytes()
        .chain(group.bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    1 << (h % 63)
}

/// The bit of a side field in a session's `side_groups`: its group's, or for
/// [`RARE_COLUMNS`] their table's.
pub(crate) fn side_bit(f: &FieldDef) -> u64 {
    if RARE_COLUMNS.contains(&f.column) {
        group_bit(RARE_PART)
    } else {
        group_bit(f.group)
    }
}

/// Statements that bring a layout-2 store to layout 3, in one transaction: the
/// groups that now share [`SHARED_TABLE`] had a table each (`sessions_<group>`,
/// some maybe without the columns of fields added since); their rows become one row
/// per session there, and their tables go. `have` lists the store's (table, column)
/// pairs.
pub(crate) fn migrate_from_layout_2(have: &std::collections::HashSet<(String, String)>) -> Vec<String> {
    let shared: Vec<&'static FieldDef> = FIELDS.iter().filter(|f| packed(f)).collect();
    let mut groups: Vec<&str> = shared.iter().map(|f| f.group).collect();
    groups.sort_unstable();
    groups.dedup();
    let old: Vec<String> = groups
        .iter()
        .map(|g| format!("sessions_{g}"))
        .filter(|t| have.contains(&(t.clone(), "rk".to_string())))
        .collect();
    let mut out = vec![create_side_table(SHARED_TABLE, &shared)];
    if !old.is_empty() {
        // Each session's row key once, with its times, then every old table's columns
        // joined to it.
        let keys = old
            .iter()
            .map(|t| format!("SELECT rk, side_start, side_stop FROM {t}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut names = vec!["rk".to_string(), "side_start".into(), "side_stop".into()];
        let mut values = vec!["k.rk".to_string(), "k.side_start".into(), "k.side_stop".into()];
        for f in &shared {
            let table = format!("sessions_{}", f.group);
            if have.contains(&(table.clone(), f.column.to_string())) {
                names.push(format!("\"{}\"", f.column));
                values.push(format!("{table}.\"{}\"", f.column));
            }
        }
        let joins: String = old.iter().map(|t| format!(" LEFT JOIN {t} USING (rk)")).collect();
        out.push(format!(
            "INSERT INTO {SHARED_TABLE} ({}) SELECT {} FROM (SELECT rk, min(side_start) AS side_start, \
             max(side_stop) AS side_stop FROM ({keys}) GROUP BY rk) AS k{joins} ORDER BY k.rk",
            names.join(", "),
            values.join(", ")
        ));
        out.extend(old.iter().map(|t| format!("DROP TABLE {t}")));
    }
    out.push("UPDATE tyto_meta SET value = '3' WHERE key = 'schema_version'".to_string());
    out
}

/// Statements that bring a layout-3 store to this layout, in one transaction:
/// [`RARE_COLUMNS`] (those the store has) move from `sessions` to [`RARE_TABLE`],
/// a row for each session holding one, whose `side_groups` then says so. `have`
/// lists the store's (table, column) pairs.
pub(crate) fn migrate_from_layout_3(have: &std::collections::HashSet<(String, String)>) -> Vec<String> {
    let rare: Vec<&'static FieldDef> =
        side_tables().into_iter().find(|(t, _)| t == RARE_TABLE).map(|(_, fields)| fields).unwrap_or_default();
    let moving: Vec<&FieldDef> =
        rare.iter().copied().filter(|f| have.contains(&("sessions".to_string(), f.column.to_string()))).collect();
    let mut out = vec![create_side_table(RARE_TABLE, &rare)];
    if !moving.is_empty() {
        let names: Vec<String> = moving.iter().map(|f| format!("\"{}\"", f.column)).collect();
        // Lists all: an empty one is none, as NULL is.
        let held = moving.iter().map(|f| format!("coalesce(len(\"{}\"), 0) > 0", f.column)).collect::<Vec<_>>();
        let held = held.join(" OR ");
        out.push(format!(
            "INSERT INTO {RARE_TABLE} (rk, side_start, side_stop, {cols}) \
             SELECT rk, start_time, stop_time, {cols} FROM sessions WHERE {held} ORDER BY rk",
            cols = names.join(", ")
        ));
        out.push(format!(
            "UPDATE sessions SET side_groups = coalesce(side_groups, 0) | {} WHERE {held}",
            group_bit(RARE_PART) as i64
        ));
        out.extend(names.iter().map(|c| format!("ALTER TABLE sessions DROP COLUMN {c}")));
    }
    out.push("UPDATE tyto_meta SET value = '4' WHERE key = 'schema_version'".to_string());
    out
}

pub(crate) fn sql_type(f: &FieldDef) -> &'static str {
    match (f.kind, f.multi) {
        (FieldKind::Ip, false) => "UHUGEINT",
        (FieldKind::Ip, true) => "UHUGEINT[]",
        (FieldKind::Integer | FieldKind::Duration, false) => "BIGINT",
        (FieldKind::Integer | FieldKind::Duration, true) => "BIGINT[]",
        (FieldKind::Date, false) => "TIMESTAMP",
        (FieldKind::Date, true) => "TIMESTAMP[]",
        (FieldKind::Text | FieldKind::LowerText, false) => "VARCHAR",
        (FieldKind::Text | FieldKind::LowerText, true) => "VARCHAR[]",
    }
}

pub(crate) fn column_def(f: &FieldDef) -> String {
    format!("\"{}\" {}", f.column, sql_type(f))
}

/// Every statement that makes the session tables.
pub(crate) fn create_session_tables() -> Vec<String> {
    let main: Vec<String> =
        ["rk BIGINT".to_string(), "side_groups BIGINT".to_string(), format!("{} BIGINT", super::protocol_sets::COLUMN)]
            .into_iter()
            .chain(FIELDS.iter().filter(|f| side_table(f).is_none()).map(column_def))
            .collect();
    let mut out = vec![format!("CREATE TABLE sessions ({})", main.join(", "))];
    out.extend(side_tables().iter().map(|(table, fields)| match table.as_str() {
        SHARED_TABLE => create_packed_table(),
        _ => create_side_table(table, fields),
    }));
    out
}

/// Columns of [`SHARED_TABLE`] since layout 5: a session's fields there as two
/// lists, the fields' column names and, at the same place, each one's values as
/// text (addresses as their 128-bit number, times in microseconds), read back in
/// their type by [`col`]. Why: a table pays for every column an append names, per
/// column as much as per row, and a batch's few rows there named most of its ~230
/// columns — on `tyto ingest` of the benchmark corpus (60,306 sessions, 4,218 with
/// a field there) its appends took 236 ms, 56 µs a row, and leaving the table out
/// saved a quarter of the store's time (appends and commits).
pub(crate) const PACKED_NAMES: &str = "field_names";
pub(crate) const PACKED_VALUES: &str = "field_values";

/// Whether `f` is one of [`SHARED_TABLE`]'s packed fields.
pub(crate) fn packed(f: &FieldDef) -> bool {
    side_table(f).is_some_and(|t| t == SHARED_TABLE)
}

/// [`SHARED_TABLE`] as layout 5 has it.
pub(crate) fn create_packed_table() -> String {
    format!(
        "CREATE TABLE {SHARED_TABLE} (rk BIGINT, side_start TIMESTAMP, side_stop TIMESTAMP, \
         {PACKED_NAMES} VARCHAR[], {PACKED_VALUES} VARCHAR[][])"
    )
}

/// A packed field's value in its type: NULL when the session has none (as a column
/// of its own would be).
fn packed_value(f: &FieldDef) -> String {
    let texts = format!("{PACKED_VALUES}[list_position({PACKED_NAMES}, '{}')]", f.column);
    match (f.kind, f.multi) {
        (FieldKind::Text | FieldKind::LowerText, true) => texts,
        (FieldKind::Text | FieldKind::LowerText, false) => format!("{texts}[1]"),
        (FieldKind::Integer | FieldKind::Duration, true) => format!("CAST({texts} AS BIGINT[])"),
        (FieldKind::Integer | FieldKind::Duration, false) => format!("CAST({texts}[1] AS BIGINT)"),
        (FieldKind::Ip, true) => format!("CAST({texts} AS UHUGEINT[])"),
        (FieldKind::Ip, false) => format!("CAST({texts}[1] AS UHUGEINT)"),
        (FieldKind::Date, true) => format!("list_transform({texts}, lambda x: make_timestamp(CAST(x AS BIGINT)))"),
        (FieldKind::Date, false) => format!("make_timestamp(CAST({texts}[1] AS BIGINT))"),
    }
}

/// Statements that bring a layout-4 store to layout 5, in one transaction: the
/// columns of [`SHARED_TABLE`] (those the store has) packed into its two lists.
pub(crate) fn migrate_from_layout_4(have: &std::collections::HashSet<(String, String)>) -> Vec<String> {
    let shared: Vec<&'static FieldDef> = FIELDS
        .iter()
        .filter(|f| packed(f) && have.contains(&(SHARED_TABLE.to_string(), f.column.to_string())))
        .collect();
    let entry = |f: &FieldDef| {
        let c = format!("\"{}\"", f.column);
        let texts = match (f.kind, f.multi) {
            (FieldKind::Date, true) => format!("list_transform({c}, lambda x: CAST(epoch_us(x) AS VARCHAR))"),
            (FieldKind::Date, false) => format!("[CAST(epoch_us({c}) AS VARCHAR)]"),
            (_, true) => format!("CAST({c} AS VARCHAR[])"),
            (_, false) => format!("[CAST({c} AS VARCHAR)]"),
        };
        format!("CASE WHEN {c} IS NOT NULL THEN {{'n': '{}', 'v': {texts}}} END", f.column)
    };
    let entries = if shared.is_empty() {
        "[]::STRUCT(n VARCHAR, v VARCHAR[])[]".to_string()
    } else {
        format!(
            "list_filter([{}], lambda e: e IS NOT NULL)",
            shared.iter().map(|f| entry(f)).collect::<Vec<_>>().join(", ")
        )
    };
    vec![
        format!("ALTER TABLE {SHARED_TABLE} RENAME TO {SHARED_TABLE}_4"),
        create_packed_table(),
        format!(
            "INSERT INTO {SHARED_TABLE} SELECT rk, side_start, side_stop, \
             list_transform(e, lambda x: x.n), list_transform(e, lambda x: x.v) \
             FROM (SELECT rk, side_start, side_stop, {entries} AS e FROM {SHARED_TABLE}_4) ORDER BY rk"
        ),
        format!("DROP TABLE {SHARED_TABLE}_4"),
        "UPDATE tyto_meta SET value = '5' WHERE key = 'schema_version'".to_string(),
    ]
}

/// A side table: the row key, the session's times, then `fields`' columns.
pub(crate) fn create_side_table(table: &str, fields: &[&FieldDef]) -> String {
    let cols: Vec<String> = ["rk BIGINT".to_string(), "side_start TIMESTAMP".into(), "side_stop TIMESTAMP".into()]
        .into_iter()
        .chain(fields.iter().map(|f| column_def(f)))
        .collect();
    format!("CREATE TABLE {table} ({})", cols.join(", "))
}

/// A string literal. DuckDB's C API takes NUL-terminated SQL, so a NUL (or any
/// control character) inside a value must never reach the text: those are written
/// as `chr(n)` pieces.
pub fn string_literal(s: &str) -> String {
    let mut pieces: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_control() {
            if !cur.is_empty() {
                pieces.push(format!("'{}'", std::mem::take(&mut cur)));
            }
            pieces.push(format!("chr({})", c as u32));
        } else if c == '\'' {
            cur.push_str("''");
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() || pieces.is_empty() {
        pieces.push(format!("'{cur}'"));
    }
    if pieces.len() == 1 {
        pieces.pop().unwrap_or_default()
    } else {
        format!("({})", pieces.join(" || "))
    }
}

/// A field's value as SQL. Catalogue columns are [a-z0-9_]; quoting keeps reserved
/// words harmless. `root_id` is NULL where it equals `id` (the first segment of every
/// session, so nearly every row): one unique string less to store per row.
pub(crate) fn col(f: &FieldDef) -> String {
    if f.column == "root_id" {
        return "coalesce(\"root_id\", \"id\")".into();
    }
    if packed(f) {
        return packed_value(f);
    }
    format!("\"{}\"", f.column)
}

/// DuckDB's dialect, with the numbers of the lists of protocols the store held when
/// it was last asked ([`super::protocol_sets`]).
#[derive(Default)]
pub(crate) struct DuckSql {
    pub(crate) protocol_sets: std::cell::RefCell<std::sync::Arc<super::protocol_sets::Known>>,
}

impl DuckSql {
    /// A time range's condition on a table whose first and last packet times are
    /// the columns `start` and `stop`.
    fn range(start: &str, stop: &str, start_ns: Option<i64>, stop_ns: Option<i64>) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(s) = start_ns {
            out.push(format!("{stop} >= {}", time_literal(s)));
        }
        if let Some(s) = stop_ns {
            out.push(format!("{start} <= {}", time_literal(s)));
        }
        out
    }

    /// A FROM clause reaching `sessions` and the tables of `fields` (each once), by
    /// row key: joined when every row needs the field (`inner`), else left-joined.
    /// With `sample`, about that percent of `sessions` is read: DuckDB's system
    /// sampling takes whole vectors of 2,048 rows and skips reading the others (the
    /// seed is fixed, but which vectors a parallel scan takes still varies), and each
    /// row gets the sample's size.
    pub(crate) fn from(fields: &[&FieldDef], inner: bool, sample: Option<f64>) -> String {
        let mut from = String::from("sessions");
        if let Some(p) = sample {
            from = format!(
                "(SELECT *, count(*) OVER () AS {} FROM sessions TABLESAMPLE {:.4}% (system, 1)) AS sessions",
                crate::sql::reads::SAMPLE_ROWS,
                p.clamp(0.0001, 100.0)
            );
        }
        let mut joined: Vec<String> = Vec::new();
        for f in fields {
            if let Some(t) = side_table(f) {
                if !joined.contains(&t) {
                    from.push_str(&format!(" {} JOIN {t} USING (rk)", if inner { "" } else { "LEFT" }));
                    joined.push(t);
                }
            }
        }
        from
    }
}

pub(crate) fn time_literal(ns: i64) -> String {
    format!("make_timestamp({})", ns.div_euclid(1000))
}

impl Dialect for DuckSql {
    fn column(&self, f: &FieldDef) -> String {
        col(f)
    }

    fn true_(&self) -> &'static str {
        "true"
    }

    fn false_(&self) -> &'static str {
        "false"
    }

    fn string_literal(&self, s: &str) -> String {
        string_literal(s)
    }

    fn ip_literal(&self, v: u128) -> String {
        format!("{v}::UHUGEINT")
    }

    fn time_literal(&self, ns: i64) -> String {
        time_literal(ns)
    }

    fn each(&self, f: &FieldDef, pred: &dyn Fn(&str) -> String) -> String {
        let c = col(f);
        if f.multi {
            format!("coalesce(len(list_filter({c}, lambda x: {})) > 0, false)", pred("x"))
        } else {
            format!("coalesce({}, false)", pred(&c))
        }
    }

    fn exists(&self, f: &FieldDef) -> String {
        let c = col(f);
        match (f.multi, f.kind) {
            (true, _) => format!("coalesce(len({c}) > 0, false)"),
            (false, FieldKind::Text | FieldKind::LowerText) => format!("coalesce({c} <> '', false)"),
            (false, _) => format!("({c} IS NOT NULL)"),
        }
    }

    fn count(&self, f: &FieldDef) -> String {
        format!("coalesce(len({}), 0)", col(f))
    }

    fn list_contains(&self, f: &FieldDef, v: &str) -> String {
        format!("coalesce(list_contains({}, {v}), false)", col(f))
    }

    fn list_has_any(&self, f: &FieldDef, list: &str) -> String {
        format!("coalesce(list_has_any({}, [{list}]), false)", col(f))
    }

    fn list_holds(&self, f: &FieldDef, values: &[String]) -> String {
        if f.column == "protocols" {
            return self.protocol_sets.borrow().holding(values);
        }
        crate::sql::list_holds_literally(self, f, values)
    }

    fn ip_in(&self, f: &FieldDef, list: &str) -> String {
        if f.multi {
            self.list_has_any(f, list)
        } else {
            self.each(f, &|x| format!("{x} IN ({list})"))
        }
    }

    fn like(&self, x: &str, pattern: &str) -> String {
        format!("{x} LIKE {pattern} ESCAPE '\\'")
    }

    fn regex(&self, x: &str, pattern: &str, case_insensitive: bool) -> String {
        let flags = if case_insensitive { "(?i)" } else { "" };
        format!("regexp_full_match({x}, {})", string_literal(&format!("{flags}{pattern}")))
    }

    fn time_range(&self, start_ns: Option<i64>, stop_ns: Option<i64>) -> Vec<String> {
        DuckSql::range("start_time", "stop_time", start_ns, stop_ns)
    }

    fn elsewhere(&self, f: &FieldDef, leaf: &str, q: &ListQuery) -> Option<String> {
        let table = side_table(f)?;
        let mut conds = DuckSql::range("side_start", "side_stop", q.start_ns, q.stop_ns);
        conds.push(leaf.to_string());
        Some(format!("(rk IN (SELECT rk FROM {table} WHERE {}))", conds.join(" AND ")))
    }
}

impl crate::sql::reads::Shapes for DuckSql {
    fn from(&self, fields: &[&FieldDef], inner: bool, sample: Option<f64>) -> String {
        DuckSql::from(fields, inner, sample)
    }

    fn can_sample(&self) -> bool {
        true
    }

    fn unnest_distinct(&self, column: &str) -> String {
        format!("unnest(list_distinct({column}))")
    }

    fn present(&self, _f: &FieldDef, v: &str) -> String {
        format!("{v} IS NOT NULL")
    }

    fn shown(&self, _f: &FieldDef, v: &str) -> String {
        v.to_string()
    }

    fn bucket(&self, us: i64) -> String {
        format!("(epoch_us(start_time) // {us}) * {us}")
    }

    fn start_us(&self) -> &'static str {
        "epoch_us(start_time)"
    }

    fn sum(&self, column: &str) -> String {
        // A sum of BIGINT is a HUGEINT; the answer's reader wants a 64-bit number.
        format!("CAST(coalesce(sum({column}), 0) AS BIGINT)")
    }

    fn in_op(&self) -> &'static str {
        "IN"
    }

    fn quantile(&self, column: &str, q: f64) -> String {
        // ClickHouse's `quantileExact`: the value at rank floor(q × n) + 1 of the sorted
        // values, so both stores give the same figure (DuckDB's own interpolate).
        let c = column;
        format!(
            "list_extract(list_sort(list({c}) FILTER (WHERE {c} IS NOT NULL)), \
             least(CAST(floor(count({c}) * {q}) AS BIGINT) + 1, count({c})))"
        )
    }
}
