//! Outbound mail through Cloudflare's Email Service: the `send_email` binding `EMAIL`
//! (`[[send_email]]` in wrangler.toml; simulated by `wrangler dev`, which logs each message and
//! writes its parts to files).

use worker::{EmailAddress, Env, SendEmailBuilder};

use super::env::{self, EMAIL_BINDING};
use crate::contract::mail::{self, Sender};
use crate::domain::recovery::Mail;

/// Sends `mail` from `EMAIL_FROM`. A failure is logged with its cause and without the address
/// or the link; nobody waits for the outcome.
pub async fn send(env: &Env, from: &str, mail: &Mail) {
    let Ok(binding) = env::mail(env) else {
        worker::console_error!("mail failure: the {EMAIL_BINDING} binding went away");
        return;
    };
    let sender = Sender::parse(from);
    let message = mail::render(mail, sender.name);
    let builder = SendEmailBuilder::builder_with_email_address_and_str(
        &EmailAddress::new(sender.name, sender.address),
        &message.to,
        &message.subject,
    )
    .text(&message.text)
    .html(&message.html)
    .build();
    if let Err(error) = binding.send_with_builder(&builder).await {
        // The Email Service's message names the cause (unverified sender, quota); it may
        // quote the recipient, so only its first part, up to an address, is kept.
        let cause = String::from(error.message());
        let cause = cause.split('@').next().unwrap_or_default();
        let cause: String = cause.chars().take(120).collect();
        worker::console_error!(
            "mail failure: sending a {} failed: {cause}",
            message.subject
        );
    }
}
