//! The brand JWT a consumer exchanges for an authenticated consumer JWT
//! (`/authenticate`): the checks it must pass.
//!
//! - Its signature, with the account's key: HS256 secret or RS256 public
//!   key (`[hub.consumer_auth]`).
//! - `sub`, required: the consumer's identity at the brand.
//! - `exp`, required: LivePerson's authenticated messaging requires brand
//!   tokens to expire, so a token without one is refused rather than
//!   honoured for ever. It is refused once it is more than [`LEEWAY`] past.
//! - `nbf`, when present: refused while it is more than [`LEEWAY`] ahead.
//! - `iss`, when `issuer` is configured: required and equal to it.
//! - `aud`, when `audience` is configured: required and naming it. Without
//!   `audience`, `aud` is not checked (the hub cannot know its own name).
//!
//! - `lp_sdes`, when present: the consumer's engagement attributes, a
//!   list of records tagged by `type` (LivePerson's authenticated
//!   engagement attributes); the agent assigned to its conversation reads them.
//!
//! A token that fails any check gets the answer a bad signature gets:
//! 401, with the reason.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use lp::users::UserProfile;
use serde::Deserialize;
use serde_json::Value;

use crate::config::ConsumerAuth;

/// How far `exp` and `nbf` may be off the hub's clock: the clock skew
/// between the brand's servers and the hub that is forgiven.
pub const LEEWAY: Duration = Duration::from_secs(60);

/// What a brand JWT that passed says of the consumer.
#[derive(Debug, PartialEq)]
pub struct Verified {
    /// Its `sub`: the consumer's identity at the brand.
    pub subject: String,
    /// Its `lp_sdes`, if it has some.
    pub engagement: Option<UserProfile>,
}

/// Checks a brand JWT against the account's settings; returns what it
/// says of the consumer, or why it is refused.
pub fn verify(auth: &ConsumerAuth, token: &str) -> Result<Verified, String> {
    let header = decode_header(token).map_err(|e| format!("the brand JWT is malformed: {e}"))?;
    let key = match header.alg {
        Algorithm::HS256 => auth
            .hs256_secret
            .as_ref()
            .map(|s| DecodingKey::from_secret(s.as_bytes())),
        Algorithm::RS256 => match &auth.rs256_public_key {
            Some(pem) => Some(
                DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| format!("the account's RS256 key: {e}"))?,
            ),
            None => None,
        },
        other => return Err(format!("brand JWTs must be HS256 or RS256, not {other:?}")),
    };
    let key =
        key.ok_or_else(|| format!("the account has no {:?} key for brand JWTs", header.alg))?;
    let mut validation = Validation::new(header.alg);
    let mut required = vec!["sub", "exp"];
    validation.leeway = LEEWAY.as_secs();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    if let Some(issuer) = &auth.issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    match &auth.audience {
        Some(audience) => {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        None => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(&required);
    let data = decode::<Value>(token, &key, &validation)
        .map_err(|e| format!("the brand JWT is not valid: {}", reason(e.kind(), auth)))?;
    let subject = data.claims["sub"]
        .as_str()
        .map(str::to_owned)
        .ok_or("the brand JWT is not valid: its sub is not a string")?;
    let engagement = match data.claims.get("lp_sdes") {
        None | Some(Value::Null) => None,
        Some(written) => Some(UserProfile::deserialize(written).map_err(|e| {
            format!("the brand JWT is not valid: its lp_sdes is not a list of engagement attributes ({e})")
        })?),
    };
    Ok(Verified {
        subject,
        engagement,
    })
}

/// Why a token failed, in the terms of the checks above.
fn reason(kind: &ErrorKind, auth: &ConsumerAuth) -> String {
    let leeway = LEEWAY.as_secs();
    match kind {
        ErrorKind::InvalidSignature => "its signature does not match the account's key".into(),
        ErrorKind::ExpiredSignature => {
            format!("it expired (exp is more than {leeway} s past): ask the brand for a new one")
        }
        ErrorKind::ImmatureSignature => {
            format!("it is not valid yet (nbf is more than {leeway} s ahead)")
        }
        ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => {
            "it has no exp: brand JWTs must expire".into()
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("it has no {claim}"),
        ErrorKind::InvalidIssuer => format!(
            "its iss is not the account's issuer {:?}",
            auth.issuer.as_deref().unwrap_or_default()
        ),
        ErrorKind::InvalidAudience => format!(
            "its aud does not name the account's audience {:?}",
            auth.audience.as_deref().unwrap_or_default()
        ),
        ErrorKind::InvalidClaimFormat(claim) => format!("its {claim} is not a number of seconds"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    fn auth() -> ConsumerAuth {
        ConsumerAuth {
            hs256_secret: Some("brand-secret".into()),
            ..ConsumerAuth::default()
        }
    }

    #[test]
    fn the_brand_secret_is_not_in_debug_output() {
        let printed = format!("{:?}", auth());
        assert!(!printed.contains("brand-secret"), "{printed}");
        assert!(printed.contains("<hidden>"), "{printed}");
    }

    fn signed(claims: Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"brand-secret"),
        )
        .unwrap()
    }

    fn now() -> i64 {
        jsonwebtoken::get_current_timestamp() as i64
    }

    #[test]
    fn a_brand_jwts_lp_sdes_are_the_consumers_engagement_attributes() {
        let sdes = json!([{"type": "ctmrinfo", "info": {"customerId": "C-7"}}]);
        let claims = json!({"sub": "c", "exp": now() + 600, "lp_sdes": sdes});
        let verified = verify(&auth(), &signed(claims)).unwrap();
        assert_eq!(serde_json::to_value(verified.engagement).unwrap(), sdes);
        let bad = json!({"sub": "c", "exp": now() + 600, "lp_sdes": {"customerId": "C-7"}});
        let refused = verify(&auth(), &signed(bad)).unwrap_err();
        assert!(refused.contains("lp_sdes"), "{refused}");
    }

    #[test]
    fn a_brand_jwt_without_exp_is_refused() {
        let refused = verify(&auth(), &signed(json!({"sub": "c"}))).unwrap_err();
        assert!(refused.contains("has no exp"), "{refused}");
    }

    #[test]
    fn exp_and_nbf_are_forgiven_the_leeway_and_no_more() {
        let leeway = LEEWAY.as_secs() as i64;
        let within = json!({"sub": "c", "exp": now() - leeway + 5, "nbf": now() + leeway - 5});
        assert_eq!(verify(&auth(), &signed(within)).unwrap().subject, "c");
        let expired = json!({"sub": "c", "exp": now() - leeway - 5});
        let refused = verify(&auth(), &signed(expired)).unwrap_err();
        assert!(refused.contains("expired"), "{refused}");
        let early = json!({"sub": "c", "exp": now() + 600, "nbf": now() + leeway + 5});
        let refused = verify(&auth(), &signed(early)).unwrap_err();
        assert!(refused.contains("not valid yet"), "{refused}");
    }

    #[test]
    fn issuer_and_audience_are_checked_only_when_configured() {
        let claims = json!({"sub": "c", "exp": now() + 600, "iss": "other", "aud": "other"});
        assert!(verify(&auth(), &signed(claims.clone())).is_ok());
        let strict = ConsumerAuth {
            issuer: Some("brand".into()),
            audience: Some("hub".into()),
            ..auth()
        };
        let refused = verify(&strict, &signed(claims)).unwrap_err();
        assert!(refused.contains("issuer \"brand\""), "{refused}");
        let missing = json!({"sub": "c", "exp": now() + 600, "iss": "brand"});
        let refused = verify(&strict, &signed(missing)).unwrap_err();
        assert!(refused.contains("has no aud"), "{refused}");
        let right = json!({"sub": "c", "exp": now() + 600, "iss": "brand", "aud": ["x", "hub"]});
        assert!(verify(&strict, &signed(right)).is_ok());
    }
}
