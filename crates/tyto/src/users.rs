//! `tyto user`: the viewer's users.

use std::io::{self, BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use tyto_server::{new_user, Users};

use crate::UserAction;

fn read_password(given: Option<String>, name: &str) -> Result<String> {
    if let Some(p) = given {
        return Ok(p);
    }
    if io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {name}: ")).context("reading the password")?;
        let again = rpassword::prompt_password("again: ").context("reading the password")?;
        if first != again {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub fn run(action: UserAction, data_dir: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let users = Users::new(data_dir);
    match action {
        UserAction::Add {
            name,
            admin,
            password,
            no_pcap,
            no_packets,
            upload,
            remove_tags,
            expression,
            time_limit,
            digest,
        } => {
            let mut user = new_user(&name, admin);
            user.export_pcap = !no_pcap;
            user.see_packets = !no_packets;
            user.upload = upload;
            user.remove_tags = remove_tags;
            user.expression = expression;
            user.time_limit_hours = time_limit;
            let password = read_password(password, &name)?;
            users.add(user, &password, digest)?;
            eprintln!("added user {name} to {}", users.path().display());
            if digest {
                eprintln!(
                    "note: {name} may use HTTP Digest; its key (an MD5 of name, realm and password) is kept in {}, \
                     and is worth the password to whoever reads that file",
                    users.path().display()
                );
            }
        }
        UserAction::Passwd { name, password, digest, no_digest } => {
            if users.get(&name)?.is_none() {
                bail!("there is no user {name:?}");
            }
            let password = read_password(password, &name)?;
            let digest = if digest {
                Some(true)
            } else if no_digest {
                Some(false)
            } else {
                None
            };
            users.set_password(&name, &password, digest)?;
            eprintln!("password of {name} changed (the viewer ends its open sessions)");
        }
        UserAction::List => {
            println!(
                "{:<24} {:<6} {:<5} {:<8} {:<7} {:<7} {:<7} {:<11} EXPRESSION",
                "NAME", "ADMIN", "PCAP", "PACKETS", "UPLOAD", "UNTAG", "DIGEST", "TIME LIMIT"
            );
            for u in users.all()? {
                let yes = |b: bool| if b { "yes" } else { "no" };
                println!(
                    "{:<24} {:<6} {:<5} {:<8} {:<7} {:<7} {:<7} {:<11} {}",
                    u.name,
                    yes(u.admin),
                    yes(u.export_pcap),
                    yes(u.see_packets),
                    yes(u.admin || u.upload),
                    yes(u.admin || u.remove_tags),
                    yes(!u.digest_ha1.is_empty()),
                    u.time_limit_hours.map_or("-".to_string(), |h| format!("{h}h")),
                    u.expression.as_deref().unwrap_or("-")
                );
            }
        }
        UserAction::Remove { name } => {
            users.remove(&name)?;
            eprintln!("removed user {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
