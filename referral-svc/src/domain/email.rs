//! E-mail normalisation for self-referral checks.
//!
//! Lower-cased; the `+tag` of the local part is dropped everywhere (plus
//! addressing is near universal); dots in the local part are dropped only for
//! providers that ignore them (gmail.com, googlemail.com), where
//! `john.doe+1@gmail.com` and `johndoe@gmail.com` are one mailbox.
const DOTS_IGNORED: &[&str] = &["gmail.com", "googlemail.com"];

/// The mailbox an address delivers to; "" for a blank one.
pub fn normalise(email: &str) -> String {
    let email = email.trim().to_lowercase();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return email;
    };
    let local = local.split('+').next().unwrap_or(local);
    let domain = if domain == "googlemail.com" {
        "gmail.com"
    } else {
        domain
    };
    let local = if DOTS_IGNORED.contains(&domain) {
        local.replace('.', "")
    } else {
        local.to_owned()
    };
    format!("{local}@{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mailbox_many_spellings() {
        assert_eq!(normalise("John.Doe+1@gmail.com"), "johndoe@gmail.com");
        assert_eq!(normalise("johndoe@googlemail.com"), "johndoe@gmail.com");
        assert_eq!(
            normalise("john.doe+shop@example.com"),
            "john.doe@example.com"
        );
        assert_ne!(
            normalise("john.doe@example.com"),
            normalise("johndoe@example.com")
        );
        assert_eq!(normalise(" "), "");
    }
}
