//! `import-django [DUMP.json]`: converts a Django `dumpdata` of the user model (read from the
//! file, or standard input) into SQL for `wrangler d1 execute DB --file`, printed on standard
//! output. What could not be imported as it was is reported on standard error. The database
//! can still refuse a user whose id or e-mail is, or was, another user's: then
//! `wrangler d1 execute` fails naming them, and imports nothing (`edge_auth::django_import`).
//!
//!     python manage.py dumpdata auth.user > users.json     # or your custom user model
//!     cargo run --release --bin import-django -- users.json > users.sql
//!     npx wrangler d1 execute DB --remote --file=users.sql

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut dump = String::new();
    let read = match std::env::args().nth(1) {
        Some(path) => std::fs::read_to_string(&path).map(|text| dump = text),
        None => std::io::stdin().read_to_string(&mut dump).map(|_| ()),
    };
    if let Err(error) = read {
        eprintln!("import-django: cannot read the dump: {error}");
        return ExitCode::FAILURE;
    }
    let import = match edge_auth::django_import::convert(&dump) {
        Ok(import) => import,
        Err(error) => {
            eprintln!("import-django: {error}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", import.sql);
    for (id, reason) in &import.unusable {
        eprintln!("import-django: user {id} imported WITHOUT a usable password: {reason}; they must reset it");
    }
    for (pk, reason) in &import.skipped {
        eprintln!("import-django: user {pk} NOT imported: {reason}");
    }
    eprintln!(
        "import-django: {} users imported ({} without a usable password), {} not imported",
        import.imported,
        import.unusable.len(),
        import.skipped.len()
    );
    ExitCode::SUCCESS
}
