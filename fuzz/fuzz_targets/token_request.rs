//! `TokenRequest::parse`: content type, form body and client authentication (HTTP Basic or
//! `client_secret_post`) of the token endpoint. Input layout: see `tessera_fuzz::decode_oauth`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::oauth::{AuthMethod, TokenRequest};
use tessera_fuzz::{decode_oauth, is_scope_token, render_error};

fuzz_target!(|data: &[u8]| {
    let input = decode_oauth(data);
    let result = TokenRequest::parse(
        input.content_type.as_deref(),
        input.authorization.iter().map(Vec::as_slice),
        input.body,
    );
    match result {
        Ok(request) => {
            // What a successful parse promises the rest of the server.
            assert!(!request.credentials.client_id.is_empty());
            assert!(input.authorization.len() <= 1);
            assert_eq!(
                request.credentials.method == AuthMethod::Basic,
                input.authorization.len() == 1
            );
            if let Some(scope) = &request.scope {
                assert!(scope.split(' ').all(is_scope_token), "{scope:?}");
            }
            for resource in &request.resources {
                assert!(!resource.is_empty());
            }
            let _ = format!("{request:?}");
        }
        Err(e) => render_error(&e),
    }
});
