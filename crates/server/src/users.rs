//! Users of the viewer, kept in `users.json` in the data directory (mode 0600).
//!
//! A file rather than a table of the session store: `tyto user add` must work while a
//! server holds the store open (DuckDB allows one writing process), and the server
//! sees changes on the next request because it re-reads the file when it changes.
//!
//! Each user has an argon2id hash for logins and HTTP Basic, and the HTTP Digest
//! `HA1` (MD5 of `name:realm:password`), which Digest needs on the server side; the
//! HA1 is worth the password on this realm only, which is why the file is private.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};

/// The HTTP authentication realm (part of every stored Digest HA1).
pub const REALM: &str = "Tyto";
/// Users a file may hold (the whole file is read on a change).
const MAX_USERS: usize = 10_000;
const MAX_FILE_BYTES: u64 = 16 << 20;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub name: String,
    #[serde(default)]
    pub admin: bool,
    /// May download PCAP (a session's, a page's, a query's).
    #[serde(default = "yes")]
    pub export_pcap: bool,
    /// May see packet bytes in a session's detail.
    #[serde(default = "yes")]
    pub see_packets: bool,
    /// May send capture files to be ingested (admins always may).
    #[serde(default)]
    pub upload: bool,
    /// May take tags off sessions (Arkime's removeEnabled; admins always may).
    /// Anyone may put tags on the sessions they see.
    #[serde(default)]
    pub remove_tags: bool,
    /// An expression AND-ed to every search this user makes (Arkime's forced expression).
    #[serde(default)]
    pub expression: Option<String>,
    /// The longest time range this user may search, in hours.
    #[serde(default)]
    pub time_limit_hours: Option<u32>,
    /// The time zone (IANA name) this user types times in and sees them in; UTC
    /// when unset.
    #[serde(default)]
    pub time_zone: Option<String>,
    pub argon2: String,
    /// HTTP Digest's HA1, for users who chose Digest ("": Digest refused).
    #[serde(default)]
    pub digest_ha1: String,
    #[serde(default)]
    pub created: i64,
}

fn yes() -> bool {
    true
}

/// What a listing shows of a user (no secrets).
#[derive(Clone, Debug, Serialize)]
pub struct UserInfo {
    pub name: String,
    pub admin: bool,
    pub export_pcap: bool,
    pub see_packets: bool,
    pub upload: bool,
    pub remove_tags: bool,
    pub expression: Option<String>,
    pub time_limit_hours: Option<u32>,
    /// The time zone times are typed and shown in: an IANA name, `UTC` when unset.
    pub time_zone: String,
}

impl User {
    pub fn info(&self) -> UserInfo {
        UserInfo {
            name: self.name.clone(),
            admin: self.admin,
            export_pcap: self.export_pcap,
            see_packets: self.see_packets,
            upload: self.upload,
            remove_tags: self.admin || self.remove_tags,
            expression: self.expression.clone(),
            time_limit_hours: self.time_limit_hours,
            time_zone: self.time_zone.clone().unwrap_or_else(|| "UTC".into()),
        }
    }

    /// Whether this user may take tags off sessions.
    pub fn may_remove_tags(&self) -> bool {
        self.admin || self.remove_tags
    }

    /// Whether this user sees only part of the sessions (a forced expression or a time
    /// limit): totals of the whole store are not theirs to read.
    pub fn is_restricted(&self) -> bool {
        self.expression.as_deref().is_some_and(|e| !e.trim().is_empty()) || self.time_limit_hours.is_some()
    }

    /// Whether `password` is this user's (argon2 verification: slow on purpose).
    pub fn check_password(&self, password: &str) -> bool {
        verify_password(&self.argon2, password)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a users file: {why}")]
    Format { path: PathBuf, why: String },
    #[error("user name {0:?}: use 1 to 64 letters, digits, '.', '_', '-' or '@'")]
    BadName(String),
    #[error("the password is empty")]
    EmptyPassword,
    #[error("there is already a user {0:?}")]
    Exists(String),
    #[error("there is no user {0:?}")]
    Missing(String),
    #[error("hashing the password: {0}")]
    Hash(String),
    #[error("the forced expression does not compile: {0}")]
    Expression(String),
}

#[derive(Default, Serialize, Deserialize)]
struct UsersFile {
    users: Vec<User>,
}

pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// Whether `password` matches an argon2 hash (slow on purpose).
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(h) => Argon2::default().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// The largest argon2 memory a stored hash may make a check use (64 MiB; Tyto's own
/// hashes use 19 MiB).
const MAX_CHECK_BLOCKS: usize = 64 * 1024;

/// [`verify_password`] in `memory`, which the caller keeps from one check to the
/// next. Why: argon2 otherwise allocates its 19 MiB for every check, and glibc keeps
/// up to three such blocks per thread once freed (measured: 58 MB per checking
/// thread after a flood of wrong passwords); one block reused costs 19 MiB, always.
pub fn verify_password_in(hash: &str, password: &str, memory: &mut Vec<argon2::Block>) -> bool {
    let Ok(h) = PasswordHash::new(hash) else { return false };
    let (Ok(params), Ok(algorithm)) = (argon2::Params::try_from(&h), argon2::Algorithm::try_from(h.algorithm)) else {
        return false;
    };
    let version = match h.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else { return false };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    let blocks = params.block_count();
    if blocks > MAX_CHECK_BLOCKS {
        return false;
    }
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let ok = Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_ok();
    ok && out.len() == expected.len() && out.iter().zip(expected.as_bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0
}

/// The argon2 hash of a password, and its HTTP Digest HA1.
pub fn hash_password(name: &str, password: &str) -> Result<(String, String), UserError> {
    if password.is_empty() {
        return Err(UserError::EmptyPassword);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| UserError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Hash(e.to_string()))?;
    let hash =
        Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| UserError::Hash(e.to_string()))?;
    Ok((hash.to_string(), digest_ha1(name, password)))
}

pub fn digest_ha1(name: &str, password: &str) -> String {
    hex(&Md5::digest(format!("{name}:{REALM}:{password}").as_bytes()))
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The users file of a data directory.
pub struct Users {
    path: PathBuf,
    /// The users as last read, and the file's modification time then.
    cache: Mutex<(Option<SystemTime>, Vec<User>)>,
}

impl Users {
    pub fn new(data_dir: &Path) -> Users {
        Users { path: tyto_schema::DataDir::new(data_dir).users(), cache: Mutex::new((None, Vec::new())) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<Vec<User>, UserError> {
        let io = |source| UserError::Io { path: self.path.clone(), source };
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(e)),
        };
        if meta.len() > MAX_FILE_BYTES {
            return Err(UserError::Format { path: self.path.clone(), why: "larger than 16 MiB".into() });
        }
        let text = std::fs::read_to_string(&self.path).map_err(io)?;
        let file: UsersFile = serde_json::from_str(&text)
            .map_err(|e| UserError::Format { path: self.path.clone(), why: e.to_string() })?;
        if file.users.len() > MAX_USERS {
            return Err(UserError::Format { path: self.path.clone(), why: format!("more than {MAX_USERS} users") });
        }
        Ok(file.users)
    }

    /// Every user, re-read when the file changed since the last call.
    pub fn all(&self) -> Result<Vec<User>, UserError> {
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.0.is_none() || cache.0 != modified {
            let users = self.read()?;
            *cache = (modified, users);
        }
        Ok(cache.1.clone())
    }

    pub fn get(&self, name: &str) -> Result<Option<User>, UserError> {
        Ok(self.all()?.into_iter().find(|u| u.name == name))
    }

    /// Writes the whole file anew (to a temporary file, then renamed: a reader never
    /// sees half a file).
    fn write(&self, users: &[User]) -> Result<(), UserError> {
        let io = |source| UserError::Io { path: self.path.clone(), source };
        let tmp = self.path.with_extension("json.partial");
        let text = serde_json::to_string_pretty(&UsersFile { users: users.to_vec() }).expect("users serialise");
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = (None, Vec::new());
        Ok(())
    }

    /// Adds a user; `digest`: also keep the HA1 that HTTP Digest needs (worth the
    /// password on this realm if the file leaks, which is why it is a choice).
    pub fn add(&self, mut user: User, password: &str, digest: bool) -> Result<(), UserError> {
        if !valid_name(&user.name) {
            return Err(UserError::BadName(user.name));
        }
        if let Some(e) = &user.expression {
            tyto_query::compile(e, 0).map_err(|err| UserError::Expression(err.to_string()))?;
        }
        let mut users = self.read()?;
        if users.iter().any(|u| u.name == user.name) {
            return Err(UserError::Exists(user.name));
        }
        let (argon2, ha1) = hash_password(&user.name, password)?;
        user.argon2 = argon2;
        user.digest_ha1 = if digest { ha1 } else { String::new() };
        user.created = tyto_schema::time::now_ns() / 1_000_000_000;
        users.push(user);
        self.write(&users)
    }

    /// A new password; `digest` says whether HTTP Digest stays (or becomes) possible
    /// (`None`: as it was).
    pub fn set_password(&self, name: &str, password: &str, digest: Option<bool>) -> Result<(), UserError> {
        let mut users = self.read()?;
        let u = users.iter_mut().find(|u| u.name == name).ok_or_else(|| UserError::Missing(name.into()))?;
        let (argon2, ha1) = hash_password(name, password)?;
        let digest = digest.unwrap_or(!u.digest_ha1.is_empty());
        u.argon2 = argon2;
        u.digest_ha1 = if digest { ha1 } else { String::new() };
        self.write(&users)
    }

    /// Changes a user's rights (not the password) with `change`; the forced
    /// expression must compile.
    pub fn update(&self, name: &str, change: impl FnOnce(&mut User)) -> Result<User, UserError> {
        let mut users = self.read()?;
        let u = users.iter_mut().find(|u| u.name == name).ok_or_else(|| UserError::Missing(name.into()))?;
        change(u);
        if let Some(e) = u.expression.as_deref().filter(|e| !e.trim().is_empty()) {
            tyto_query::compile(e, 0).map_err(|err| UserError::Expression(err.to_string()))?;
        }
        let changed = u.clone();
        self.write(&users)?;
        Ok(changed)
    }

    pub fn remove(&self, name: &str) -> Result<(), UserError> {
        let mut users = self.read()?;
        let before = users.len();
        users.retain(|u| u.name != name);
        if users.len() == before {
            return Err(UserError::Missing(name.into()));
        }
        self.write(&users)
    }
}

/// A new user's settings before the password is hashed.
pub fn new_user(name: &str, admin: bool) -> User {
    User {
        name: name.into(),
        admin,
        export_pcap: true,
        see_packets: true,
        upload: false,
        remove_tags: false,
        expression: None,
        time_limit_hours: None,
        time_zone: None,
        argon2: String::new(),
        digest_ha1: String::new(),
        created: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_in_kept_memory_agree_with_the_library() {
        let (hash, _) = hash_password("ann", "right").unwrap();
        let mut memory = Vec::new();
        assert!(verify_password_in(&hash, "right", &mut memory));
        assert!(!verify_password_in(&hash, "wrong", &mut memory));
        assert!(verify_password_in(&hash, "right", &mut memory), "the memory is reused");
        assert_eq!(memory.len(), 19 * 1024);
        assert!(!verify_password_in("$argon2id$v=19$m=999999999,t=2,p=1$c2FsdHNhbHQ$aGFzaA", "x", &mut memory));
        assert!(!verify_password_in("not a hash", "x", &mut memory));
        assert_eq!(verify_password(&hash, "right"), verify_password_in(&hash, "right", &mut memory));
    }

    #[test]
    fn users_are_added_checked_changed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let users = Users::new(dir.path());
        assert!(users.all().unwrap().is_empty());
        users.add(new_user("alice", true), "s3cret", true).unwrap();
        assert!(matches!(users.add(new_user("alice", false), "x", false), Err(UserError::Exists(_))));
        assert!(matches!(users.add(new_user("bad name", false), "x", false), Err(UserError::BadName(_))));
        assert!(matches!(users.add(new_user("bob", false), "", false), Err(UserError::EmptyPassword)));
        let mut bad = new_user("carol", false);
        bad.expression = Some("ip.src ==".into());
        assert!(matches!(users.add(bad, "x", false), Err(UserError::Expression(_))));
        let alice = users.get("alice").unwrap().unwrap();
        assert!(alice.check_password("s3cret"));
        assert!(!alice.check_password("s3cret "));
        assert_eq!(alice.digest_ha1, hex(&Md5::digest(b"alice:Tyto:s3cret")));
        users.set_password("alice", "new", None).unwrap();
        let alice = users.get("alice").unwrap().unwrap();
        assert!(alice.check_password("new"));
        assert_eq!(alice.digest_ha1, hex(&Md5::digest(b"alice:Tyto:new")), "Digest kept");
        users.set_password("alice", "new", Some(false)).unwrap();
        assert!(users.get("alice").unwrap().unwrap().digest_ha1.is_empty(), "Digest given up");
        users.add(new_user("dave", false), "pw", false).unwrap();
        assert!(users.get("dave").unwrap().unwrap().digest_ha1.is_empty(), "no HA1 unless asked");
        users.remove("alice").unwrap();
        assert!(users.get("alice").unwrap().is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(users.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the users file is private");
        }
    }

    #[test]
    fn a_damaged_users_file_is_an_error_not_an_empty_list() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(tyto_schema::DataDir::new(dir.path()).users(), "{not json").unwrap();
        let err = Users::new(dir.path()).all().unwrap_err();
        assert!(err.to_string().contains("not a users file"), "{err}");
    }
}
