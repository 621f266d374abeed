//! `TokenReference::parse`: the introspection (RFC 7662) and revocation (RFC 7009) requests.
//! Input layout: see `tessera_fuzz::decode_oauth`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::oauth::{AuthMethod, TokenReference};
use tessera_fuzz::{decode_oauth, render_error};

fuzz_target!(|data: &[u8]| {
    let input = decode_oauth(data);
    let result = TokenReference::parse(
        input.content_type.as_deref(),
        input.authorization.iter().map(Vec::as_slice),
        input.body,
    );
    match result {
        Ok(reference) => {
            assert!(!reference.credentials.client_id.is_empty());
            assert!(!reference.token.is_empty());
            assert!(input.authorization.len() <= 1);
            assert_eq!(
                reference.credentials.method == AuthMethod::Basic,
                input.authorization.len() == 1
            );
            let _ = format!("{reference:?}");
        }
        Err(e) => render_error(&e),
    }
});
