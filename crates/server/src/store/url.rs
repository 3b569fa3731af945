//! Database URLs: which backend, where, and how to show the URL without its password.

use std::fmt;
use std::path::PathBuf;

use super::StoreError;

/// A parsed `--database` value. Its `Display` and `Debug` never show a password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`, `sqlite:PATH` or a bare path: an SQLite file.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parse a database URL; errors name the URL with its password redacted.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() || path.starts_with(":memory:") {
                // Every connection of the server must see one database: a file is required.
                return Err(StoreError::UnsupportedUrl(redact(url)));
            }
            Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_owned()))
        } else if url.contains("://") || url.is_empty() {
            Err(StoreError::UnsupportedUrl(redact(url)))
        } else {
            Ok(DatabaseUrl::Sqlite(PathBuf::from(url)))
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `scheme://user:***@host/…`: the password of a URL's authority replaced by `***`; also a
/// `password=` query parameter. Anything that is not a URL is returned as it is.
pub fn redact(url: &str) -> String {
    let mut out = match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                    let hidden = if userinfo.contains(':') { ":***" } else { "" };
                    format!("{scheme}://{user}{hidden}@{host}{tail}")
                }
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    if let Some(at) = out.to_ascii_lowercase().find("password=") {
        let value_start = at + "password=".len();
        let value_end = out[value_start..]
            .find('&')
            .map_or(out.len(), |i| value_start + i);
        out.replace_range(value_start..value_end, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("postgres://u:PASSWORD@db.example:5432/prime"),
            "postgres://u:***@db.example:5432/prime"
        );
        assert_eq!(
            redact("postgresx://u:PASSWORD@h/db?sslmode=require"),
            "postgresx://u:***@h/db?sslmode=require"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact("postgres://h/db?user=u&password=PASSWORD&x=1"),
            "postgres://h/db?user=u&password=***&x=1"
        );
        assert_eq!(redact("prime-api.db"), "prime-api.db");
        let url = DatabaseUrl::parse("postgres://u:PASSWORD@h/db").unwrap();
        assert!(!url.to_string().contains("PASSWORD"));
        assert!(!format!("{url:?}").contains("PASSWORD"));
        let err = DatabaseUrl::parse("postgresx://u:PASSWORD@h/db").unwrap_err();
        assert!(!err.to_string().contains("PASSWORD"), "{err}");
    }

    #[test]
    fn backends() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://a/b.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("a/b.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:b.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("b.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("b.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("b.db"))
        );
        assert!(DatabaseUrl::parse("sqlite::memory:").is_err());
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
        assert!(matches!(
            DatabaseUrl::parse("postgresql://h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
    }
}
