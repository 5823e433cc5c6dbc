//! The mails of docs/accounts.md §1: the sender parsed from `EMAIL_FROM`, and each mail's
//! subject (`[<sender's name>] …`), plain text and simple HTML.

use std::fmt;

use crate::domain::recovery::{Mail, MailKind};

/// `EMAIL_FROM`: `Name <address>`, or a bare address (then the name is the address's domain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender<'a> {
    pub name: &'a str,
    pub address: &'a str,
}

impl<'a> Sender<'a> {
    pub fn parse(from: &'a str) -> Self {
        let from = from.trim();
        if let (Some(open), true) = (from.rfind('<'), from.ends_with('>')) {
            let address = from[open + 1..from.len() - 1].trim();
            let name = from[..open].trim().trim_matches('"').trim();
            let name = if name.is_empty() {
                domain(address)
            } else {
                name
            };
            return Self { name, address };
        }
        Self {
            name: domain(from),
            address: from,
        }
    }
}

fn domain(address: &str) -> &str {
    address
        .rsplit_once('@')
        .map_or(address, |(_, domain)| domain)
}

/// A mail ready to send. Its recipient and its link are credentials of a sort: `Debug` shows
/// neither.
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("to", &"[redacted]")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// The message of `mail`, from the service named `service` (the sender's name).
pub fn render(mail: &Mail, service: &str) -> Message {
    let (title, intro, action, link) = match &mail.kind {
        MailKind::PasswordReset { link } => (
            "Password Reset E-mail",
            "You're receiving this e-mail because you or someone else has requested a password \
             reset for your user account. It can be safely ignored if you did not request a \
             password reset.",
            "Click the link below to reset your password.",
            link.expose(),
        ),
        MailKind::Verification { link } => (
            "Please Confirm Your E-mail Address",
            "You're receiving this e-mail because this address was given to register a user \
             account. It can be safely ignored if you did not register.",
            "To confirm this is correct, go to the link below.",
            link.expose(),
        ),
    };
    let text = format!("{intro}\n\n{action}\n\n{link}\n\nThank you for using {service}!\n");
    let html = format!(
        "<!doctype html>\n<html><body>\n<p>{}</p>\n<p>{}</p>\n<p><a href=\"{link}\">{link}</a></p>\n\
         <p>Thank you for using {}!</p>\n</body></html>\n",
        escape(intro),
        escape(action),
        escape(service),
        link = escape(link),
    );
    Message {
        to: mail.to.clone(),
        subject: format!("[{service}] {title}"),
        text,
        html,
    }
}

/// Text for HTML content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::secret::Secret;

    fn reset(link: &str) -> Mail {
        Mail {
            to: "Ann@Example.com".to_owned(),
            kind: MailKind::PasswordReset {
                link: Secret::new(link.to_owned()),
            },
        }
    }

    #[test]
    fn the_sender_is_read_from_a_name_and_an_address_or_from_a_bare_address() {
        let sender = |from| Sender::parse(from);
        assert_eq!(
            sender("Edge Auth <no-reply@example.com>"),
            Sender {
                name: "Edge Auth",
                address: "no-reply@example.com"
            }
        );
        assert_eq!(
            sender(" \"Acme, Inc\" <auth@acme.test> "),
            Sender {
                name: "Acme, Inc",
                address: "auth@acme.test"
            }
        );
        assert_eq!(
            sender("<auth@acme.test>"),
            Sender {
                name: "acme.test",
                address: "auth@acme.test"
            }
        );
        assert_eq!(
            sender("auth@acme.test"),
            Sender {
                name: "acme.test",
                address: "auth@acme.test"
            }
        );
    }

    #[test]
    fn a_reset_mail_has_the_services_name_in_its_subject_and_the_link_in_both_parts() {
        let message = render(
            &reset("https://app.test/#/password-reset/MQ/abc-def"),
            "Acme",
        );
        assert_eq!(message.to, "Ann@Example.com");
        assert_eq!(message.subject, "[Acme] Password Reset E-mail");
        assert!(message
            .text
            .contains("\n\nhttps://app.test/#/password-reset/MQ/abc-def\n\n"));
        assert!(message.html.contains(
            "<a href=\"https://app.test/#/password-reset/MQ/abc-def\">https://app.test/#/password-reset/MQ/abc-def</a>"
        ));
    }

    #[test]
    fn a_verification_mail_says_what_it_confirms() {
        let mail = Mail {
            to: "ann@example.com".to_owned(),
            kind: MailKind::Verification {
                link: Secret::new("https://app.test/#/verify-email/MQ:1x:sig".to_owned()),
            },
        };
        let message = render(&mail, "Edge Auth");
        assert_eq!(
            message.subject,
            "[Edge Auth] Please Confirm Your E-mail Address"
        );
        assert!(message
            .text
            .contains("https://app.test/#/verify-email/MQ:1x:sig"));
    }

    #[test]
    fn the_html_part_escapes_what_it_quotes() {
        let message = render(&reset("https://a.test/?x=1&y=\"<b>\""), "A & B");
        assert!(message
            .html
            .contains("href=\"https://a.test/?x=1&amp;y=&quot;&lt;b&gt;&quot;\""));
        assert!(message.html.contains("Thank you for using A &amp; B!"));
        assert!(!message.html.contains("<b>"));
    }

    #[test]
    fn debug_shows_neither_the_recipient_nor_the_link() {
        let shown = format!("{:?}", render(&reset("https://a.test/secret-token"), "A"));
        assert!(!shown.contains("Ann@Example.com"), "{shown}");
        assert!(!shown.contains("secret-token"), "{shown}");
    }
}
