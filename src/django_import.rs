//! Importing users from Django: a `manage.py dumpdata` JSON of the user model (the seed's
//! custom user, or Django's stock `auth.user`) becomes SQL for
//! `wrangler d1 execute DB --file`. Ids are kept, so `user_id` claims stay the same, and
//! `pbkdf2_sha256` hashes are kept as they are, so passwords keep working.
//!
//! Nothing is dropped silently: a user whose hash this service cannot verify (argon2, bcrypt,
//! Django's unusable `!…`) is imported without a usable password, and a user that cannot be
//! imported at all (no e-mail, an e-mail or id already taken by another user of the dump, an
//! id that is not an integer in 1..=2^53 − 1, the ids D1 passes to the worker exactly) is
//! reported.
//!
//! # Ids are never given twice
//!
//! The `users` table is `AUTOINCREMENT`, so that a deleted user's id, which old tokens may
//! still carry, never names someone else. An import must keep that promise, and it only
//! writes SQL, so the rule is in the SQL: each user is one
//! `INSERT INTO users … SELECT … WHERE <guard>`, which takes effect only if the id is above
//! the table's high-water mark (`sqlite_sequence`, the highest id ever given, deleted users
//! included) and neither the id nor the e-mail is in use. Users go in ascending order of id,
//! so each one's guard sees the mark the previous ones raised.
//!
//! A user counts as **the same user** when a row has its id and, ASCII-case-insensitively as
//! the e-mail index compares, its e-mail. Such a user is left as it is, not updated: once
//! imported, the database is the source of truth (a login may have re-hashed the password or
//! recorded `last_login`, an operator may have deactivated the account), and a dump taken
//! earlier must not undo that. So running the same file again changes nothing.
//!
//! Any other user the guard keeps out is **refused**, and the import with it: the file ends
//! with a check that finds the dump's users not in the table as the same user and, if there
//! are any, inserts a line naming them and why into a table whose trigger raises it as an
//! error (`RAISE` works only in triggers). `wrangler d1 execute` then exits with that error
//! and D1, which runs a file as one transaction (locally and remotely), rolls back all of
//! it: nothing is imported, and the helper tables are gone. On success the file drops them
//! itself. Failing is the one signal that reaches the operator in every mode: the rows of a
//! final `SELECT` are not shown for a `--remote --file` import.

use std::collections::HashSet;

use serde_json::Value;

/// What the conversion produced and what it has to tell the operator.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Import {
    /// The whole import, for `wrangler d1 execute --file`: see the module documentation.
    /// Empty when no user of the dump can be imported.
    pub sql: String,
    /// Users in `sql`: the database may still refuse them, and then the whole import.
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

/// The users table's AUTOINCREMENT high-water mark: the highest id it has ever given, even
/// if that user has since been deleted.
const HIGH_WATER_MARK: &str =
    "(SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'users')";

/// The condition on which the user `id` with the e-mail `email` (a SQL literal) is inserted:
/// its id was never given, and neither its id nor its e-mail is in use.
fn guard(id: i64, email: &str) -> String {
    format!(
        "{id} > {HIGH_WATER_MARK} \
         AND NOT EXISTS (SELECT 1 FROM users WHERE id = {id} OR email = {email} COLLATE NOCASE)"
    )
}

/// Before the users: the table that lists the dump's users for the final check, and a table
/// whose trigger turns a row into an error with that row's text (RAISE only works in
/// triggers). The file runs as one transaction, so these never outlive it.
const PROLOGUE: &str = "\
-- Generated by import-django. Each user is inserted only if its id is above the users table's
-- AUTOINCREMENT high-water mark and neither its id nor its e-mail is in use; a user already
-- present with the same id and e-mail is left as it is. If any user of the dump is neither
-- inserted nor already present, the last statements fail with the list of them, and D1 rolls
-- the whole file back: nothing is imported.
CREATE TABLE import_django_users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
CREATE TABLE import_django_refusal (report TEXT NOT NULL);
CREATE TRIGGER import_django_refusal BEFORE INSERT ON import_django_refusal
BEGIN
  SELECT RAISE(ABORT, NEW.report);
END;
";

/// After the users: fails, naming them (the first 20) and why, if any user of the dump is
/// not in the users table as the same user; then removes the helper tables. The reason is
/// the first that applies: the id is another user's, the e-mail is another user's, or the id
/// is at or below the high-water mark (the only case left).
/// Wrangler splits the file into statements itself and tracks `CASE … END` to do it: each
/// `END` here is followed by a space or a newline, as its splitter requires.
const EPILOGUE: &str = "\
INSERT INTO import_django_refusal (report)
WITH refused (id, line) AS (
  SELECT d.id, 'user ' || d.id || ' <' || d.email || '>: ' || COALESCE(
    'its id is another user''s, <' || (SELECT u.email FROM users u WHERE u.id = d.id) || '>',
    'its e-mail is user ' || (SELECT u.id FROM users u WHERE u.email = d.email COLLATE NOCASE) || '''s',
    'its id is at or below the highest id this database has given: it may have been a deleted user''s, and ids are never given twice')
  FROM import_django_users d
  WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.id AND u.email = d.email COLLATE NOCASE)
)
SELECT 'import-django: nothing imported, ' || count(*) || ' user(s) of the dump refused: '
  || (SELECT group_concat(line, '; ') FROM (SELECT line FROM refused ORDER BY id LIMIT 20))
  || CASE WHEN count(*) > 20 THEN '; and ' || (count(*) - 20) || ' more' ELSE '' END
FROM refused HAVING count(*) > 0;
DROP TRIGGER import_django_refusal;
DROP TABLE import_django_refusal;
DROP TABLE import_django_users;
";

/// Converts a dumpdata document. Entries of other models (anything without `password` and
/// `email` fields) are ignored.
pub fn convert(dump: &str) -> Result<Import, String> {
    let document: Value =
        serde_json::from_str(dump).map_err(|e| format!("not a dumpdata JSON document: {e}"))?;
    let entries = document
        .as_array()
        .ok_or("not a dumpdata JSON document: expected a JSON array")?;
    let mut import = Import::default();
    let mut seen_ids = HashSet::new();
    let mut seen_emails = HashSet::new();
    // (id, that user's statements), put in the order of their ids below.
    let mut users: Vec<(i64, String)> = Vec::new();
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
        if seen_ids.contains(&id) {
            import.skipped.push((
                pk_text,
                format!("id {id} already belongs to another user of the dump"),
            ));
            continue;
        }
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
        // Django's names, at most 150 characters as its model allows (docs/accounts.md §3).
        let name = |field| {
            let name: String = optional_text(fields, field)
                .unwrap_or_default()
                .chars()
                .take(150)
                .collect();
            quote(&name)
        };
        let (first_name, last_name) = (name("first_name"), name("last_name"));
        let email = quote(&email);
        users.push((
            id,
            format!(
                "INSERT INTO import_django_users (id, email) VALUES ({id}, {email});\n\
                 INSERT INTO users (id, email, username, password, is_active, date_joined, last_login, \
                 first_name, last_name)\n  \
                 SELECT {id}, {email}, {}, {}, {}, {date_joined}, {last_login}, {first_name}, {last_name}\n  \
                 WHERE {};\n",
                quote(&username),
                quote(&password),
                i32::from(is_active),
                guard(id, &email),
            ),
        ));
        seen_ids.insert(id);
        seen_emails.insert(email_key);
        import.imported += 1;
    }
    // Ascending, so that each user's id is above the high-water mark that the users inserted
    // before it have raised.
    users.sort_by_key(|(id, _)| *id);
    if !users.is_empty() {
        import.sql.push_str(PROLOGUE);
        for (_, statements) in &users {
            import.sql.push_str(statements);
        }
        import.sql.push_str(EPILOGUE);
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
            format!(
                "{PROLOGUE}\
                 INSERT INTO import_django_users (id, email) VALUES (7, 'O''Neil@Example.com');\n\
                 INSERT INTO users (id, email, username, password, is_active, date_joined, last_login, \
                 first_name, last_name)\n  \
                 SELECT 7, 'O''Neil@Example.com', 'o''neil', '{HASH}', 1, '2024-01-02T03:04:05Z', NULL, '', ''\n  \
                 WHERE 7 > (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'users') \
                 AND NOT EXISTS (SELECT 1 FROM users WHERE id = 7 OR email = 'O''Neil@Example.com' COLLATE NOCASE);\n\
                 {EPILOGUE}"
            )
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
        assert!(import.sql.contains("SELECT 3, 'ann@example.com', 'ann', "));
        assert!(import.sql.contains(
            ", 0, '2024-01-02T03:04:05.123Z', '2024-02-01T00:00:00Z', '', ''\n  WHERE 3 > "
        ));
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
        assert!(import.sql.contains("SELECT 9007199254740991, 'u@x.io', "));
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

    /// The statement that inserts user `id` into `users`, from its INSERT to its `;`.
    fn insert_of(sql: &str, id: i64) -> &str {
        let start = sql
            .find(&format!("INSERT INTO users (id, email, username, password, is_active, date_joined, last_login, first_name, last_name)\n  SELECT {id}, "))
            .unwrap_or_else(|| panic!("no INSERT of user {id} in\n{sql}"));
        let length = sql[start..].find(";\n").unwrap();
        &sql[start..=start + length]
    }

    #[test]
    fn every_user_is_inserted_only_under_the_guard_and_in_the_order_of_ids() {
        let import = convert(&dump(&format!(
            r#"{{"model":"auth.user","pk":12,"fields":{{"email":"Twelve@x.io","username":"l","password":"{HASH}"}}}},
               {{"model":"auth.user","pk":3,"fields":{{"email":"three@x.io","username":"t","password":"{HASH}"}}}},
               {{"model":"auth.user","pk":9007199254740991,"fields":{{"email":"last@x.io","username":"z","password":"{HASH}"}}}},
               {{"model":"auth.user","pk":5,"fields":{{"email":"five@x.io","username":"f","password":"!"}}}}"#
        )))
        .unwrap();
        assert_eq!(import.imported, 4);
        let sql = &import.sql;
        assert!(sql.starts_with(PROLOGUE) && sql.ends_with(EPILOGUE));
        let users = [
            (3, "three@x.io"),
            (5, "five@x.io"),
            (12, "Twelve@x.io"),
            (9007199254740991, "last@x.io"),
        ];
        let mut previous = 0;
        for (id, email) in users {
            let insert = insert_of(sql, id);
            assert!(
                insert.ends_with(&format!(
                    "\n  WHERE {id} > (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'users') \
                     AND NOT EXISTS (SELECT 1 FROM users WHERE id = {id} OR email = '{email}' COLLATE NOCASE);"
                )),
                "user {id} is inserted without the guard: {insert}"
            );
            let staged =
                format!("INSERT INTO import_django_users (id, email) VALUES ({id}, '{email}');\n");
            let at = sql
                .find(&staged)
                .unwrap_or_else(|| panic!("user {id} is not staged for the check"));
            assert!(at > previous, "user {id} is out of the order of ids");
            previous = at;
        }
        // No other way into users: one INSERT per user, each under its guard.
        assert_eq!(sql.matches("INSERT INTO users ").count(), users.len());
        assert_eq!(sql.matches(" > (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'users') AND NOT EXISTS (").count(), users.len());
        assert_eq!(
            sql.matches("INSERT INTO import_django_users ").count(),
            users.len()
        );
    }

    #[test]
    fn the_import_fails_unless_every_user_is_in_the_table_as_the_same_user() {
        // The final check: a staged user counts as imported only if a row has its id and,
        // ASCII-case-insensitively, its e-mail; any other makes the trigger raise.
        assert!(EPILOGUE.starts_with("INSERT INTO import_django_refusal (report)\n"));
        assert!(EPILOGUE.contains(
            "FROM import_django_users d\n  \
             WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.id AND u.email = d.email COLLATE NOCASE)\n"
        ));
        assert!(EPILOGUE.contains("FROM refused HAVING count(*) > 0;\n"));
        assert!(PROLOGUE.contains(
            "CREATE TRIGGER import_django_refusal BEFORE INSERT ON import_django_refusal\nBEGIN\n  SELECT RAISE(ABORT, NEW.report);\nEND;\n"
        ));
        // Wrangler's splitter closes a `CASE` or `BEGIN` only at an `END` followed by a space,
        // a newline or `;`: anything else would merge the rest of the file into one statement.
        for (at, _) in format!("{PROLOGUE}{EPILOGUE}").match_indices("END") {
            let next = format!("{PROLOGUE}{EPILOGUE}")[at + 3..].chars().next();
            assert!(
                matches!(next, Some(' ' | '\n' | ';')),
                "END followed by {next:?}"
            );
        }
        // The helper tables are created once and dropped at the end.
        for name in [
            "TRIGGER import_django_refusal",
            "TABLE import_django_refusal",
            "TABLE import_django_users",
        ] {
            assert_eq!(
                PROLOGUE.matches(&format!("CREATE {name} ")).count(),
                1,
                "{name}"
            );
            assert!(EPILOGUE.contains(&format!("DROP {name};\n")), "{name}");
        }
    }

    #[test]
    fn a_second_user_with_the_same_id_is_refused_and_a_dump_without_importable_users_gives_no_sql()
    {
        let import = convert(&dump(&format!(
            r#"{{"model":"auth.user","pk":4,"fields":{{"email":"a@x.io","username":"a","password":"{HASH}"}}}},
               {{"model":"auth.user","pk":4,"fields":{{"email":"b@x.io","username":"b","password":"{HASH}"}}}}"#
        )))
        .unwrap();
        assert_eq!(import.imported, 1);
        assert_eq!(
            import.skipped,
            [(
                "4".to_owned(),
                "id 4 already belongs to another user of the dump".to_owned()
            )]
        );
        assert!(!import.sql.contains("'b@x.io'"));

        let import = convert(&dump(&format!(
            r#"{{"model":"auth.user","pk":0,"fields":{{"email":"a@x.io","username":"a","password":"{HASH}"}}}}"#
        )))
        .unwrap();
        assert_eq!((import.imported, import.sql.as_str()), (0, ""));
    }

    #[test]
    fn a_document_without_users_is_an_error() {
        assert!(convert("{}").is_err());
        assert!(convert("[]").is_err());
        assert!(convert("not json").is_err());
    }
}
