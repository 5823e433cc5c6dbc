//! Importing users from Django: a `manage.py dumpdata` JSON of the user model (the seed's
//! custom user, or Django's stock `auth.user`) becomes SQL for
//! `wrangler d1 execute DB --file`. Ids are kept, so `user_id` claims stay the same, and
//! `pbkdf2_sha256` hashes are kept as they are, so passwords keep working.
//!
//! Nothing is dropped silently: a user whose hash this service cannot verify (argon2, bcrypt,
//! Django's unusable `!…`) is imported without a usable password, and a user that cannot be
//! imported at all (no e-mail, an e-mail already taken in another letter case, an id that is
//! not an integer in 1..=2^53 − 1, the ids D1 passes to the worker exactly) is reported.

use serde_json::Value;

/// What the conversion produced and what it has to tell the operator.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Import {
    /// One `INSERT` per imported user.
    pub sql: String,
    pub imported: usize,
    /// Imported without a usable password: (id, why).
    pub unusable: Vec<(i64, String)>,
    /// Not imported: (the dump entry's pk as JSON, why).
    pub skipped: Vec<(String, String)>,
}

/// A SQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn optional_text(fields: &Value, name: &str) -> Option<String> {
    fields.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// Why a stored Django hash cannot be verified here, if it cannot.
fn unusable_reason(hash: &str) -> Option<String> {
    if hash.is_empty() || hash.starts_with('!') {
        return Some("Django's unusable password (no password set)".to_owned());
    }
    let algorithm = hash.split('$').next().unwrap_or_default();
    let well_formed = crate::domain::passwords::PasswordHash::from_stored(hash.to_owned())
        .iterations()
        .is_some();
    (algorithm != "pbkdf2_sha256" || !well_formed)
        .then(|| format!("unsupported hash format \"{algorithm}\""))
}

/// The largest id imported: 2^53 − 1. D1 hands integers to the worker as JavaScript numbers
/// (doubles), which above it no longer tell neighbouring ids apart, so two users could share
/// one `user_id`.
const MAX_ID: i64 = (1 << 53) - 1;

/// A dump entry's pk as a user id, or why it cannot be one.
fn user_id(pk: &Value) -> Result<i64, String> {
    let not_an_integer = || Err("the id is not an integer".to_owned());
    let Value::Number(number) = pk else {
        return not_an_integer();
    };
    if let Some(id) = number.as_i64().filter(|id| (1..=MAX_ID).contains(id)) {
        return Ok(id);
    }
    let why = if number.as_i64().is_some_and(|id| id < 1) {
        "ids are positive"
    } else if number.is_i64() || number.is_u64() {
        "D1 passes integers to the worker as JavaScript numbers, in which larger ids collide"
    } else {
        return not_an_integer();
    };
    Err(format!(
        "the id {pk} is outside 1..={MAX_ID} (2^53 - 1): {why}"
    ))
}

/// Converts a dumpdata document. Entries of other models (anything without `password` and
/// `email` fields) are ignored.
pub fn convert(dump: &str) -> Result<Import, String> {
    let document: Value =
        serde_json::from_str(dump).map_err(|e| format!("not a dumpdata JSON document: {e}"))?;
    let entries = document
        .as_array()
        .ok_or("not a dumpdata JSON document: expected a JSON array")?;
    let mut import = Import::default();
    let mut seen_emails: Vec<String> = Vec::new();
    for entry in entries {
        let fields = entry.get("fields").unwrap_or(&Value::Null);
        if fields.get("password").is_none() || fields.get("email").is_none() {
            continue;
        }
        let pk = entry.get("pk").cloned().unwrap_or(Value::Null);
        let pk_text = pk.to_string();
        let id = match user_id(&pk) {
            Ok(id) => id,
            Err(reason) => {
                import.skipped.push((pk_text, reason));
                continue;
            }
        };
        let email = optional_text(fields, "email")
            .unwrap_or_default()
            .trim()
            .to_owned();
        if email.is_empty() {
            import.skipped.push((
                pk_text,
                "no e-mail address: this service logs users in by e-mail".to_owned(),
            ));
            continue;
        }
        let email_key = email.to_ascii_lowercase();
        if seen_emails.contains(&email_key) {
            import.skipped.push((
                pk_text,
                format!("e-mail {email} already belongs to another imported user"),
            ));
            continue;
        }
        let username = optional_text(fields, "username").unwrap_or_default();
        if [&email, &username].iter().any(|text| text.contains('\0')) {
            import.skipped.push((
                pk_text,
                "a NUL character in the e-mail or username".to_owned(),
            ));
            continue;
        }
        let stored = optional_text(fields, "password").unwrap_or_default();
        let password = match unusable_reason(&stored) {
            Some(reason) => {
                let marker = format!("!imported-without-usable-password ({reason})");
                import.unusable.push((id, reason));
                marker
            }
            None => stored,
        };
        let is_active = fields
            .get("is_active")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let date_joined = optional_text(fields, "date_joined")
            .map_or("datetime('now')".to_owned(), |d| quote(&d));
        let last_login =
            optional_text(fields, "last_login").map_or("NULL".to_owned(), |d| quote(&d));
        import.sql.push_str(&format!(
            "INSERT INTO users (id, email, username, password, is_active, date_joined, last_login) VALUES ({id}, {}, {}, {}, {}, {date_joined}, {last_login});\n",
            quote(&email),
            quote(&username),
            quote(&password),
            i32::from(is_active),
        ));
        seen_emails.push(email_key);
        import.imported += 1;
    }
    if import.imported == 0 && import.skipped.is_empty() {
        return Err("the dump holds no user with `email` and `password` fields".to_owned());
    }
    Ok(import)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str =
        "pbkdf2_sha256$600000$abcdefghijklmnopqrstuv$mQnueSakb748zqBAC1tmWVZsZbi2zPGZarEzTGdfmso=";

    fn dump(entries: &str) -> String {
        format!("[{entries}]")
    }

    #[test]
    fn the_seeds_custom_user_model_imports_with_its_id_and_hash() {
        let import = convert(&dump(&format!(
            r#"{{"model":"accounts.customuser","pk":7,"fields":{{"email":"O'Neil@Example.com","username":"o'neil","password":"{HASH}","is_active":true,"date_joined":"2024-01-02T03:04:05Z","last_login":null}}}}"#
        )))
        .unwrap();
        assert_eq!(import.imported, 1);
        assert_eq!(
            import.sql,
            format!("INSERT INTO users (id, email, username, password, is_active, date_joined, last_login) VALUES (7, 'O''Neil@Example.com', 'o''neil', '{HASH}', 1, '2024-01-02T03:04:05Z', NULL);\n")
        );
        assert!(import.unusable.is_empty() && import.skipped.is_empty());
    }

    #[test]
    fn stock_auth_users_import_and_other_models_are_ignored() {
        let import = convert(&dump(&format!(
            r#"{{"model":"auth.group","pk":1,"fields":{{"name":"staff"}}}},
               {{"model":"auth.user","pk":3,"fields":{{"username":"ann","first_name":"","email":"ann@example.com","password":"{HASH}","is_active":false,"is_staff":true,"date_joined":"2024-01-02T03:04:05.123Z","last_login":"2024-02-01T00:00:00Z","groups":[]}}}}"#
        )))
        .unwrap();
        assert_eq!(import.imported, 1);
        assert!(import.sql.contains("VALUES (3, 'ann@example.com', 'ann', "));
        assert!(import
            .sql
            .contains(", 0, '2024-01-02T03:04:05.123Z', '2024-02-01T00:00:00Z');"));
    }

    #[test]
    fn unsupported_and_unusable_hashes_import_without_a_usable_password() {
        let import = convert(&dump(
            r#"{"model":"auth.user","pk":1,"fields":{"email":"a@x.io","username":"a","password":"argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA"}},
               {"model":"auth.user","pk":2,"fields":{"email":"b@x.io","username":"b","password":"!Xk2unusable"}},
               {"model":"auth.user","pk":3,"fields":{"email":"c@x.io","username":"c","password":"bcrypt_sha256$$2b$12$abc"}}"#,
        ))
        .unwrap();
        assert_eq!(import.imported, 3);
        let reasons: Vec<&str> = import.unusable.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "unsupported hash format \"argon2\"",
                "Django's unusable password (no password set)",
                "unsupported hash format \"bcrypt_sha256\""
            ]
        );
        assert!(
            !import.sql.contains("argon2id$v=19"),
            "no hash material of an unusable password is kept"
        );
        assert_eq!(
            import
                .sql
                .matches("'!imported-without-usable-password")
                .count(),
            3
        );
    }

    #[test]
    fn users_that_cannot_be_imported_are_reported() {
        let import = convert(&dump(&format!(
            r#"{{"model":"auth.user","pk":1,"fields":{{"email":"","username":"nomail","password":"{HASH}"}}}},
               {{"model":"auth.user","pk":2,"fields":{{"email":"Dup@x.io","username":"a","password":"{HASH}"}}}},
               {{"model":"auth.user","pk":3,"fields":{{"email":"dup@X.io","username":"b","password":"{HASH}"}}}},
               {{"model":"auth.user","pk":"9b2c","fields":{{"email":"u@x.io","username":"c","password":"{HASH}"}}}}"#
        )))
        .unwrap();
        assert_eq!(import.imported, 1);
        let skipped: Vec<&str> = import.skipped.iter().map(|(pk, _)| pk.as_str()).collect();
        assert_eq!(skipped, ["1", "3", "\"9b2c\""]);
    }

    /// The reason a user with this pk is not imported, if it is not.
    fn refusal(pk: &str) -> Option<String> {
        let import = convert(&dump(&format!(
            r#"{{"model":"auth.user","pk":{pk},"fields":{{"email":"u@x.io","username":"u","password":"{HASH}"}}}}"#
        )))
        .unwrap();
        assert_eq!(import.imported + import.skipped.len(), 1);
        import.skipped.first().map(|(_, reason)| reason.clone())
    }

    #[test]
    fn ids_outside_what_d1_keeps_exact_are_refused() {
        let range = "is outside 1..=9007199254740991 (2^53 - 1)";
        for pk in ["0", "-1", "-9007199254740992"] {
            assert_eq!(
                refusal(pk).unwrap_or_else(|| panic!("{pk} was imported")),
                format!("the id {pk} {range}: ids are positive")
            );
        }
        for pk in [
            "9007199254740992",
            "9007199254740993",
            "9223372036854775807",
            "18446744073709551615",
        ] {
            assert_eq!(
                refusal(pk).unwrap_or_else(|| panic!("{pk} was imported")),
                format!("the id {pk} {range}: D1 passes integers to the worker as JavaScript numbers, in which larger ids collide")
            );
        }
        for pk in ["1", "9007199254740991"] {
            assert_eq!(refusal(pk), None, "{pk} is a valid id");
        }
        let import = convert(&dump(&format!(
            r#"{{"model":"auth.user","pk":9007199254740991,"fields":{{"email":"u@x.io","username":"u","password":"{HASH}"}}}}"#
        )))
        .unwrap();
        assert!(import.sql.contains("VALUES (9007199254740991, 'u@x.io', "));
    }

    #[test]
    fn ids_that_are_not_integers_are_refused() {
        for pk in ["1.5", "7.0", "1e3", "\"7\"", "null", "true", "[7]"] {
            assert_eq!(
                refusal(pk).as_deref(),
                Some("the id is not an integer"),
                "pk {pk}"
            );
        }
    }

    #[test]
    fn a_document_without_users_is_an_error() {
        assert!(convert("{}").is_err());
        assert!(convert("[]").is_err());
        assert!(convert("not json").is_err());
    }
}
