//! The world of the native flow tests: settings with cheap hashing, one key, the in-memory
//! store and denylist, one user, and a fixed clock.

use ed25519_dalek::SigningKey;

use super::accounts::User;
use super::events::Client;
use super::keys::{Key, Keyring};
use super::memory::{run, MemoryDenylist, MemoryStore};
use super::passwords::PasswordHash;
use super::secret::Secret;
use super::sessions::{
    login, refresh, Context, Credentials, LoggedIn, Login, Refreshed, SessionError,
};
use super::settings::Settings;
use super::tokens::Issued;

pub const NOW: i64 = 1_800_000_000;
/// Low, so the tests are fast; every hash in them uses it unless a test says otherwise.
pub const ITERATIONS: u32 = 1_000;
/// The slowest accepted hash: what every failed login costs.
pub const MOST: u32 = 4 * ITERATIONS;

pub fn settings() -> Settings {
    Settings {
        pbkdf2_iterations: ITERATIONS,
        pbkdf2_max_iterations: MOST,
        ..Settings::default()
    }
}
pub const EMAIL: &str = "ann@example.com";
pub const PASSWORD: &str = "x7#Lq9!vRt2m";

pub struct World {
    pub settings: Settings,
    pub keys: Keyring,
    pub store: MemoryStore,
    pub denylist: MemoryDenylist,
}

impl World {
    pub fn new() -> Self {
        Self::with(settings())
    }

    pub fn with(settings: Settings) -> Self {
        let world = Self {
            settings,
            keys: Keyring::from_keys(vec![Key::from_signing_key(SigningKey::from_bytes(
                &[7; 32],
            ))]),
            store: MemoryStore::default(),
            denylist: MemoryDenylist::default(),
        };
        world.add_user(EMAIL, 1, ITERATIONS);
        world
    }

    /// Adds an active user whose password is `PASSWORD`, hashed with `iterations`.
    pub fn add_user(&self, email: &str, id: i64, iterations: u32) {
        let user = User {
            id,
            username: email.split('@').next().unwrap_or_default().to_owned(),
            password: PasswordHash::new(&Secret::new(PASSWORD), iterations),
            is_active: true,
            email_verified: true,
            ..User::default()
        };
        self.store.add_user(email, user);
    }

    pub fn client(&self) -> Client {
        Client::new(Some("203.0.113.9"), Some("CH"), Some("test-agent"))
    }

    pub fn at(&self, now: i64) -> Context<'_> {
        Context {
            settings: &self.settings,
            keys: &self.keys,
            now,
        }
    }

    /// A password login's outcome: tokens, or the second step for a user with MFA on.
    pub fn password_login(
        &self,
        email: &str,
        password: &str,
        now: i64,
    ) -> Result<Login, SessionError> {
        let credentials = Credentials {
            email: email.into(),
            password: Secret::new(password),
        };
        run(login(
            &self.at(now),
            &self.store,
            &self.denylist,
            &credentials,
            &self.client(),
        ))
    }

    /// A password login of a user without MFA.
    pub fn login_as(
        &self,
        email: &str,
        password: &str,
        now: i64,
    ) -> Result<LoggedIn, SessionError> {
        match self.password_login(email, password, now)? {
            Login::LoggedIn(pair) => Ok(*pair),
            Login::MfaRequired(_) => panic!("the user has MFA on"),
        }
    }

    pub fn login(&self) -> LoggedIn {
        self.login_as(EMAIL, PASSWORD, NOW).expect("login")
    }

    pub fn refresh(&self, token: &str, now: i64) -> Result<Refreshed, SessionError> {
        run(refresh(
            &self.at(now),
            &self.store,
            &self.denylist,
            token,
            &self.client(),
        ))
    }

    /// A login's refresh token, rotated at `NOW`, and its successor.
    pub fn rotated(&self) -> (Issued, Issued) {
        let first = self.login().refresh;
        let successor = self.refresh(&first.encoded, NOW).unwrap().refresh.unwrap();
        (first, successor)
    }

    pub fn forget_calls(&self) {
        self.store.calls.borrow_mut().clear();
        self.denylist.calls.borrow_mut().clear();
    }

    pub fn calls(&self) -> Vec<&'static str> {
        let mut calls = self.store.calls();
        calls.extend(self.denylist.calls.borrow().iter());
        calls
    }
}
